"""The provider forms' validation, without HTTP."""

import base64
import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ValidationError

from providers.forms import (
    GmailProviderForm,
    SendGridProviderForm,
    SmtpProviderForm,
    form_class_for,
    validate_hostname,
    validate_sendgrid_verification_key,
)
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory


@pytest.mark.parametrize(
    "host",
    [
        "smtp.example.com",
        "SMTP.Example.COM",
        "localhost",
        "mail-1.eu-west.example.net",
        "smtp.example.com.",
        "192.0.2.10",
        "2001:db8::25",
        "[2001:db8::25]",
        "x" * 63 + ".example",
    ],
)
def test_valid_host_names(host, settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = True
    validate_hostname(host)


@pytest.mark.parametrize(
    "host",
    [
        "smtp://smtp.example.com",
        "smtps://smtp.example.com:465",
        "smtp.example.com/relay",
        "smtp example.com",
        " smtp.example.com",
        "smtp.example.com\t",
        "-smtp.example.com",
        "smtp-.example.com",
        "smtp..example.com",
        "smtp_relay.example.com",
        "smtp.example.com:587",
        "x" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "com",
        "300.1.1.1",
        "exämple.com",
        "*.example.com",
    ],
)
def test_invalid_host_names(host):
    with pytest.raises(ValidationError):
        validate_hostname(host)


def test_internal_hosts_are_refused_when_private_hosts_are_not_allowed(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "localhost", "[::1]"):
        with pytest.raises(ValidationError):
            validate_hostname(host)
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    validate_hostname("smtp.example.com")
    validate_hostname("8.8.8.8")


def test_a_host_name_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    inward = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: inward)
    with pytest.raises(ValidationError, match="10.9.8.7"):
        validate_hostname("relay.looks-public.example")


def test_an_unresolvable_host_is_refused_when_private_hosts_are_not_allowed(settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError, match="could not look up"):
        validate_hostname("no-such-host.invalid")


def _public_key_b64(private_key) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_sendgrid_verification_key_must_be_a_p256_public_key():
    validate_sendgrid_verification_key(_public_key_b64(ec.generate_private_key(ec.SECP256R1())))
    for bad in (
        "not base64!",
        base64.b64encode(b"random bytes").decode(),
        _public_key_b64(ec.generate_private_key(ec.SECP384R1())),
        _public_key_b64(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    ):
        with pytest.raises(ValidationError):
            validate_sendgrid_verification_key(bad)


@pytest.mark.django_db
def test_sendgrid_form_accepts_a_pasted_key_with_line_breaks():
    key = _public_key_b64(ec.generate_private_key(ec.SECP256R1()))
    form = SendGridProviderForm(
        {
            "nickname": "SG",
            "secret": "SG.abc.def",
            "from_address": "a@example.com",
            "preference_center": "none",
            "webhook_verification_key": key[:40] + "\n" + key[40:],
        }
    )
    assert form.is_valid(), form.errors
    assert form.save().webhook_verification_key == key


def test_each_kind_has_its_form():
    for kind in EmailProvider.Kind:
        assert form_class_for(kind).kind == kind
    with pytest.raises(KeyError):
        form_class_for("pigeon")


def test_labels_follow_the_documents():
    smtp = SmtpProviderForm()
    labels = {name: str(field.label) for name, field in smtp.fields.items()}
    assert labels["nickname"] == "Nickname"
    assert labels["host"] == "Host" and labels["port"] == "Port" and labels["scheme"] == "Scheme"
    assert labels["username"] == "Username" and labels["secret"] == "Password"
    assert labels["from_name"] == "Default From Name"
    assert labels["from_address"] == "From Address"
    assert labels["reply_to_address"] == "Reply Address"
    assert labels["preference_center"] == "Email Preference Center"
    assert [c for c, _ in smtp.fields["scheme"].choices] == ["smtp", "smtps", "starttls"]
    assert str(SendGridProviderForm().fields["secret"].label) == "API Key"
    assert str(GmailProviderForm().fields["secret"].label) == "App password"
    netcore = form_class_for("netcore")().fields
    assert "unsubscribe_page_url" not in netcore  # one choice: the preference center's
    assert str(netcore["preference_center"].label) == "Unsubscribe Page"
    for form in (smtp, GmailProviderForm(), SendGridProviderForm()):
        for name, field in form.fields.items():
            if not field.widget.is_hidden:
                assert field.help_text, name


@pytest.mark.django_db
def test_secret_is_required_on_create_and_optional_on_edit():
    data = {"nickname": "G", "username": "me@gmail.com", "preference_center": "none"}
    assert "secret" in GmailProviderForm(data).errors
    provider = EmailProviderFactory(gmail=True, username="me@gmail.com", secret="abcdefghijklmnop")
    form = GmailProviderForm(data, instance=provider)
    assert form.is_valid(), form.errors
    assert not form.fields["secret"].required
    assert form.save().secret == "abcdefghijklmnop"


@pytest.mark.django_db
def test_another_gmail_account_needs_its_app_password_typed():
    provider = EmailProviderFactory(gmail=True, username="me@gmail.com", secret="abcdefghijklmnop")
    data = {"nickname": "G", "username": "other@gmail.com", "preference_center": "none"}

    form = GmailProviderForm(data, instance=provider)

    assert not form.is_valid()
    assert form.errors["secret"][0].startswith("Type it again")
    assert GmailProviderForm({**data, "secret": "qrstuvwxyzabcdef"}, instance=provider).is_valid()


@pytest.mark.django_db
def test_short_secrets_show_no_hint():
    provider = EmailProviderFactory(secret="short-pw")
    assert provider.secret_last4 == ""
    assert "short-pw"[-4:] not in SmtpProviderForm(instance=provider).secret_hint()
