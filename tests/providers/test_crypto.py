"""Secrets at rest: Fernet with key rotation, and the rotate_encryption_keys command."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from providers import crypto
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _readable_with_only(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except Exception:
        return False
    return True


def test_encrypt_round_trip_hides_the_plaintext():
    token = crypto.encrypt("p@ssw0rd-value")
    assert "p@ssw0rd-value" not in token
    assert crypto.decrypt(token) == "p@ssw0rd-value"
    assert crypto.encrypt("p@ssw0rd-value") != token  # fresh IV every time


def test_old_keys_still_decrypt_after_a_new_key_is_added(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    token = crypto.encrypt("value")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert crypto.decrypt(token) == "value"
    assert _readable_with_only(NEW_KEY, crypto.encrypt("value"))


def test_unknown_key_raises_secret_unreadable(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    token = crypto.encrypt("value")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.SecretUnreadable) as excinfo:
        crypto.decrypt(token)
    assert "value" not in str(excinfo.value)


@pytest.mark.django_db
def test_rotate_encryption_keys_reencrypts_every_secret_under_the_newest_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    providers = [
        EmailProviderFactory(secret="first-secret-value"),
        EmailProviderFactory(sendgrid=True, secret="SG.second-secret-value"),
    ]
    without_secret = EmailProviderFactory()
    EmailProvider.objects.filter(pk=without_secret.pk).update(secret_encrypted="")

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "2 provider secret(s) re-encrypted" in out.getvalue()
    assert "secret-value" not in out.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key can now be dropped
    for provider, plaintext in zip(
        providers, ["first-secret-value", "SG.second-secret-value"], strict=True
    ):
        provider.refresh_from_db()
        assert _readable_with_only(NEW_KEY, provider.secret_encrypted)
        assert provider.secret == plaintext
    without_secret.refresh_from_db()
    assert without_secret.secret_encrypted == ""


@pytest.mark.django_db
def test_rotate_dry_run_writes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    provider = EmailProviderFactory(secret="dry-run-secret-value")
    before = provider.secret_encrypted
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_encryption_keys", "--dry-run", stdout=io.StringIO())
    provider.refresh_from_db()
    assert provider.secret_encrypted == before


@pytest.mark.django_db
def test_rotate_stops_without_changes_when_a_secret_is_unreadable(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    readable = EmailProviderFactory(nickname="Readable", secret="readable-secret-value")
    before = readable.secret_encrypted
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    lost = EmailProviderFactory(nickname="Lost key", secret="lost-secret-value")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    with pytest.raises(CommandError, match="Lost key") as excinfo:
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    assert "lost-secret-value" not in str(excinfo.value)
    readable.refresh_from_db()
    assert readable.secret_encrypted == before
    assert lost.pk
