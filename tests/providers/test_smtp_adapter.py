"""SmtpAdapter against a real aiosmtpd server on loopback (plain, SMTPS, STARTTLS, AUTH)."""

import base64
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.adapters.smtp import SmtpAdapter
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def provider_for(server, **overrides):
    fields = {
        "host": server.host,
        "port": server.port,
        "scheme": server.scheme,
        "username": SMTP_USER,
        "secret": SMTP_PASSWORD,
        "from_name": "Acme News",
        "from_address": "news@acme.test",
        "reply_to_address": "help@acme.test",
    }
    fields.update(overrides)
    return EmailProviderFactory(**fields)


def message(to="ada@example.org"):
    return OutgoingMessage(
        to=to, subject="Test", text="Hello", html="<p>Hello</p>", meta=f"{to}|7|3"
    )


@pytest.mark.parametrize(
    ("scheme", "tls"), [("smtp", None), ("smtps", "TLSv1.3"), ("starttls", "TLSv1.3")]
)
def test_message_arrives_with_sender_reply_to_and_meta_header(smtp_server, scheme, tls):
    server = smtp_server(scheme, auth=True)
    provider = provider_for(
        server,
        preference_center=EmailProvider.PreferenceCenter.CUSTOM,
        preference_center_url="https://acme.test/prefs",
    )
    adapter = adapter_for(provider)

    result = adapter.send(message())

    [received] = server.messages
    assert received.mail_from == "news@acme.test"
    assert received.rcpt_tos == ["ada@example.org"]
    assert received.tls_version == tls
    assert received.auth_login == SMTP_USER
    mail = received.message
    assert mail["From"] == "Acme News <news@acme.test>"
    assert mail["Reply-To"] == "help@acme.test"
    assert mail["To"] == "ada@example.org"
    assert mail["X-Postdesk-Meta"] == "ada@example.org|7|3"
    # A custom page is not known to accept the RFC 8058 POST: no one-click claim for it.
    assert mail["List-Unsubscribe"] == "<https://acme.test/prefs>"
    assert mail["List-Unsubscribe-Post"] is None
    assert mail["Message-ID"] == result.message_id
    assert mail["Message-ID"].endswith("@acme.test>")
    sent_at = parsedate_to_datetime(mail["Date"])
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)
    assert len(mail.get_all("Date")) == len(mail.get_all("Message-ID")) == 1
    assert mail.get_body(("plain",)).get_content().strip() == "Hello"
    assert result.code == 250
    if tls:
        assert f"TLS established: {tls}" in adapter.transcript


@pytest.mark.parametrize("exclude", [["LOGIN"], ["PLAIN"]])
def test_transcript_never_records_the_secret(smtp_server, exclude):
    server = smtp_server("starttls", auth=True, auth_exclude=exclude)
    adapter = adapter_for(provider_for(server))

    adapter.send(message())

    transcript = adapter.transcript
    assert "C: AUTH " in transcript and "[credentials hidden]" in transcript
    assert "S: 235" in transcript
    assert SMTP_PASSWORD not in transcript
    assert base64.b64encode(SMTP_PASSWORD.encode()).decode() not in transcript
    plain = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    assert plain not in transcript


def test_system_preference_center_points_at_one_click_unsubscribe(smtp_server):
    server = smtp_server("smtp")
    provider = provider_for(
        server, username="", preference_center=EmailProvider.PreferenceCenter.SYSTEM
    )
    adapter_for(provider).send(message())

    mail = server.messages[0].message
    assert mail["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/profiles/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_preference_center_means_no_unsubscribe_header(smtp_server):
    server = smtp_server("smtp")
    provider = provider_for(server, username="", preference_center="none")
    adapter_for(provider).send(message())

    mail = server.messages[0].message
    assert mail["List-Unsubscribe"] is None
    assert mail["List-Unsubscribe-Post"] is None


def test_wrong_password_is_authentication_failed(smtp_server):
    server = smtp_server("smtps", auth=True)
    adapter = adapter_for(provider_for(server, secret="wrong-password"))

    with pytest.raises(DeliveryError) as caught:
        adapter.send(message())

    assert caught.value.reason == "auth_failed"
    assert caught.value.code == 535
    assert not caught.value.transient
    assert "wrong-password" not in adapter.transcript
    assert server.messages == []


def test_refused_recipient_is_invalid_email_id(smtp_server):
    server = smtp_server("smtp", refuse={"nobody@example.org": "550 5.1.1 No such user"})
    adapter = adapter_for(provider_for(server, username=""))

    with pytest.raises(DeliveryError) as caught:
        adapter.send(message("nobody@example.org"))

    assert caught.value.reason == "invalid_recipient"
    assert caught.value.code == 550
    assert "5.1.1 No such user" in caught.value.detail
    assert not caught.value.transient
    assert "S: 550 5.1.1 No such user" in adapter.transcript


def test_temporary_recipient_refusal_is_transient_dispatch_failure(smtp_server):
    server = smtp_server("smtp", refuse={"busy@example.org": "450 4.2.1 Try again later"})
    adapter = adapter_for(provider_for(server, username=""))

    with pytest.raises(DeliveryError) as caught:
        adapter.send(message("busy@example.org"))

    assert caught.value.reason == "dispatch_failed"
    assert caught.value.transient


def test_policy_refusal_is_dispatch_failed(smtp_server):
    server = smtp_server("smtp", refuse={"far@example.org": "554 5.7.1 Relay access denied"})
    adapter = adapter_for(provider_for(server, username=""))

    with pytest.raises(DeliveryError) as caught:
        adapter.send(message("far@example.org"))

    assert (caught.value.reason, caught.value.transient) == ("dispatch_failed", False)


def test_unreachable_port_is_connection_error(closed_port):
    provider = EmailProviderFactory(host="127.0.0.1", port=closed_port, scheme="smtp")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "connection_error"
    assert caught.value.transient


def test_server_that_never_answers_is_timeout(silent_server, settings):
    settings.SMTP_TIMEOUT_SECONDS = 0.5
    provider = EmailProviderFactory(host="127.0.0.1", port=silent_server.port, scheme="smtp")

    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert time.monotonic() - started < 5
    assert caught.value.reason == "timeout"
    assert caught.value.transient


def test_smtps_that_never_answers_the_handshake_is_timeout(silent_server, settings):
    settings.SMTP_TIMEOUT_SECONDS = 0.5
    provider = EmailProviderFactory(host="127.0.0.1", port=silent_server.port, scheme="smtps")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "timeout"


def test_smtps_against_a_plain_port_is_a_connection_error(smtp_server):
    server = smtp_server("smtp")
    provider = provider_for(server, scheme="smtps", username="")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "connection_error"
    assert "scheme" in caught.value.detail


def test_untrusted_certificate_is_refused(smtp_server, settings):
    server = smtp_server("smtps")
    settings.SMTP_CA_FILE = None  # verification stays on: the test CA is not trusted

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider_for(server, username="")).send(message())

    assert caught.value.reason == "connection_error"
    assert "certificate" in caught.value.detail
    assert server.messages == []


def test_starttls_not_offered_is_a_connection_error(smtp_server):
    server = smtp_server("smtp")
    provider = provider_for(server, scheme="starttls", username="")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "connection_error"
    assert "STARTTLS" in caught.value.detail


def test_gmail_is_smtp_with_the_preset(db):
    provider = EmailProviderFactory(kind=EmailProvider.Kind.GMAIL, host="", port=None, scheme="")
    adapter = adapter_for(provider)

    assert type(adapter) is SmtpAdapter
    assert adapter.connection_settings() == ("smtp.gmail.com", 465, "smtps")


def test_private_hosts_are_refused_when_the_policy_forbids_them(smtp_server, settings):
    server = smtp_server("smtp")
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider_for(server, username="")).send(message())

    assert caught.value.reason == "connection_error"
    assert "does not allow" in caught.value.detail
    assert server.messages == []


def test_host_that_does_not_resolve_is_a_connection_error(db):
    provider = EmailProviderFactory(host="no-such-host.invalid", port=25, scheme="smtp")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert caught.value.reason == "connection_error"
    assert "does not resolve" in caught.value.detail
