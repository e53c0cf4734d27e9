"""The Postmark form: its fields, the write-only token and the generated webhook password."""

import pytest

from providers.forms.postmark import PostmarkProviderForm, webhook_url_with_credentials
from providers.models import EmailProvider

pytestmark = pytest.mark.django_db

TOKEN = "b4007d94-33f1-4e78-a783-97417d6c80e6"


def data(**extra) -> dict:
    return {
        "nickname": "Postmark",
        "secret": TOKEN,
        "message_stream": "broadcast",
        "from_address": "news@acme.test",
        "preference_center": "none",
        **extra,
    }


def test_saving_stores_the_token_encrypted_and_generates_the_webhook_password():
    form = PostmarkProviderForm(data())
    assert form.is_valid(), form.errors
    provider = form.save()

    provider.refresh_from_db()
    assert (provider.kind, provider.message_stream, provider.secret) == (
        "postmark",
        "broadcast",
        TOKEN,
    )
    assert TOKEN not in provider.secret_encrypted
    password = provider.webhook_secret
    assert len(password) >= 32 and password not in provider.webhook_secret_encrypted
    assert f"//postdesk:{password}@" in webhook_url_with_credentials(provider)


def test_editing_keeps_the_token_and_the_webhook_password():
    provider = PostmarkProviderForm(data()).save()
    password = provider.webhook_secret

    form = PostmarkProviderForm(data(secret="", message_stream=""), instance=provider)
    assert form.is_valid(), form.errors
    edited = form.save()

    edited.refresh_from_db()
    assert (edited.secret, edited.webhook_secret, edited.message_stream) == (TOKEN, password, "")
    assert 'value="' + TOKEN not in form.as_p()  # write-only


def test_each_provider_gets_its_own_password():
    first = PostmarkProviderForm(data()).save()
    second = PostmarkProviderForm(data(nickname="Postmark 2")).save()
    assert first.webhook_secret != second.webhook_secret


@pytest.mark.parametrize(
    ("field", "value"), [("secret", "two words"), ("message_stream", "out bound/x")]
)
def test_bad_values_get_a_clear_error(field, value):
    form = PostmarkProviderForm(data(**{field: value}))
    assert not form.is_valid()
    assert form.errors[field]
    assert EmailProvider.objects.count() == 0
