"""A stored secret goes only where it was saved for.

When the host, port, scheme, username, API base or kind differ from what the secret was saved
with, the secret must be typed again: in the edit form, in "Test connection" and in "Send test
email". A real aiosmtpd on loopback accepts any login and records every AUTH attempt, so these
tests see that the stored password never reaches another server. Plain-text AUTH to another
machine is refused unless the provider allows it, and "Test connection" runs are written to
the provider's audit trail without the secret.
"""

import ipaddress
import socket
from types import SimpleNamespace

import pytest
from aiosmtpd.smtp import AuthResult
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.connection_check import check_provider_settings
from providers.models import EmailProvider, TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from tests.factories import EmailProviderFactory
from tests.servers import RecordingHandler, _PortZeroController

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

STORED = "stored-password-7d1e0c"
TYPED = "typed-password-44b2a9"
LOGIN = "mailer"


def start_capture(address: str) -> SimpleNamespace:
    """Plain SMTP on `address` that accepts every login and records each AUTH attempt."""
    attempts: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        attempts.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)  # accepting is the worst case: nothing stops a leak

    handler = RecordingHandler()
    controller = _PortZeroController(
        handler,
        hostname=address,
        port=0,
        ready_timeout=5,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    return SimpleNamespace(
        host=address, port=controller.port, attempts=attempts, handler=handler, stop=controller.stop
    )


@pytest.fixture
def capture_smtp():
    capture = start_capture("127.0.0.1")
    yield capture
    capture.stop()


def non_loopback_address() -> str:
    """This machine's own address on its network, or "" when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
        except OSError:
            return ""
        address = probe.getsockname()[0]
    return "" if ipaddress.ip_address(address).is_loopback else address


@pytest.fixture
def capture_smtp_elsewhere():
    """The capture server on a non-loopback address of this machine."""
    address = non_loopback_address()
    if not address:
        pytest.skip("this machine has no non-loopback address")
    capture = start_capture(address)
    yield capture
    capture.stop()


def target(capture) -> dict:
    return {"host": capture.host, "port": capture.port, "scheme": "smtp", "username": LOGIN}


def form_data(settings: dict, **overrides) -> dict:
    data = {
        "nickname": "Relay",
        **settings,
        "secret": "",
        "from_name": "Acme",
        "from_address": "news@acme.test",
        "reply_to_address": "",
        "preference_center": "none",
        "preference_center_url": "",
    }
    data.update(overrides)
    return data


def check_connection(client, provider, settings: dict, **overrides) -> dict:
    data = form_data(settings, _kind="smtp", _provider=str(provider.pk), **overrides)
    data["nickname"] = provider.nickname
    response = client.post(reverse("providers:test_connection"), data)
    assert response.status_code == 200
    return response.json()


# What the secret was saved for, one setting at a time different from where the form points.
SAVED_ELSEWHERE = {
    "host": "smtp.saved.example",
    "port": 2525,
    "scheme": "starttls",
    "username": "another-login",
}


# --- Test connection ------------------------------------------------------------------------
@pytest.mark.parametrize("changed", sorted(SAVED_ELSEWHERE))
def test_test_connection_elsewhere_needs_the_secret_typed_again(
    client_logged_in, capture_smtp, changed
):
    settings = target(capture_smtp)
    saved = EmailProviderFactory(**{**settings, changed: SAVED_ELSEWHERE[changed]}, secret=STORED)

    result = check_connection(client_logged_in, saved, settings)

    assert result["ok"] is False
    assert "saved for other connection settings" in " ".join(result["errors"]["secret"])
    assert capture_smtp.attempts == []  # the stored password never reached this server
    assert STORED not in str(result)


def test_test_connection_elsewhere_uses_a_typed_secret(client_logged_in, capture_smtp):
    settings = target(capture_smtp)
    saved = EmailProviderFactory(**{**settings, "host": "smtp.saved.example"}, secret=STORED)

    result = check_connection(client_logged_in, saved, settings, secret=TYPED)

    assert result["ok"] is True, result
    assert capture_smtp.attempts == [(LOGIN, TYPED)]


def test_test_connection_uses_the_stored_secret_where_it_was_saved_for(
    client_logged_in, capture_smtp
):
    saved = EmailProviderFactory(**target(capture_smtp), secret=STORED)

    result = check_connection(client_logged_in, saved, target(capture_smtp))

    assert result["ok"] is True, result
    assert capture_smtp.attempts == [(LOGIN, STORED)]  # the capture server does see logins


# --- the edit form ----------------------------------------------------------------------------
@pytest.mark.parametrize("changed", sorted(SAVED_ELSEWHERE))
def test_edit_elsewhere_needs_the_secret_typed_again(client_logged_in, capture_smtp, changed):
    settings = target(capture_smtp)
    saved = EmailProviderFactory(**{**settings, changed: SAVED_ELSEWHERE[changed]}, secret=STORED)
    url = reverse("providers:edit", args=[saved.pk])

    refused = client_logged_in.post(url, form_data(settings, nickname=saved.nickname))

    assert refused.status_code == 200
    assert "saved for other connection settings" in refused.content.decode()
    saved.refresh_from_db()
    assert getattr(saved, changed) == SAVED_ELSEWHERE[changed]  # nothing was saved

    saved_again = client_logged_in.post(
        url, form_data(settings, nickname=saved.nickname, secret=TYPED)
    )

    assert saved_again.status_code == 302
    saved.refresh_from_db()
    assert (saved.secret, saved.secret_fits()) == (TYPED, True)


def test_edit_of_other_fields_keeps_the_stored_secret(client_logged_in, capture_smtp):
    saved = EmailProviderFactory(**target(capture_smtp), secret=STORED)
    data = form_data(target(capture_smtp), nickname=saved.nickname, from_name="Renamed")

    response = client_logged_in.post(reverse("providers:edit", args=[saved.pk]), data)

    assert response.status_code == 302
    saved.refresh_from_db()
    assert (saved.from_name, saved.secret, saved.secret_fits()) == ("Renamed", STORED, True)


# --- Send test email --------------------------------------------------------------------------
@pytest.fixture
def moved_provider(capture_smtp):
    """Saved for smtp.saved.example, then pointed at the capture server outside the form."""
    provider = EmailProviderFactory(
        **{**target(capture_smtp), "host": "smtp.saved.example"}, secret=STORED
    )
    EmailProvider.objects.filter(pk=provider.pk).update(host=capture_smtp.host)
    provider.refresh_from_db()
    return provider


def test_send_test_email_refuses_a_secret_saved_for_other_settings(
    client_logged_in, capture_smtp, moved_provider
):
    url = reverse("providers:send_test", args=[moved_provider.pk])

    response = client_logged_in.post(url, {"recipient": "qa@acme.test"})

    assert response.status_code == 200
    assert 'id="secret-elsewhere"' in response.content.decode()
    assert not TestEmail.objects.exists()
    assert capture_smtp.attempts == []


def test_a_queued_test_email_never_sends_a_secret_saved_for_other_settings(
    capture_smtp, moved_provider
):
    test_email = TestEmail.objects.create(provider=moved_provider, recipient="qa@acme.test")

    assert deliver_test_email(test_email) is DeliveryOutcome.FAILED

    test_email.refresh_from_db()
    assert test_email.failure_reason == TestEmail.FailureReason.AUTH_FAILED
    assert "saved for other connection settings" in test_email.failure_detail
    assert capture_smtp.attempts == []


def test_an_api_key_is_bound_to_the_api_base_it_was_saved_for(esp_api, settings):
    saved_for, elsewhere = esp_api(), esp_api()
    settings.SENDGRID_API_URL = saved_for.url
    provider = EmailProviderFactory(sendgrid=True, secret="SG.stored-key")
    settings.SENDGRID_API_URL = elsewhere.url

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))
    report = check_provider_settings(provider)

    assert caught.value.reason == "auth_failed"
    assert not report.ok and "saved for other connection settings" in report.steps[0].detail
    assert elsewhere.requests == [] and saved_for.requests == []


def test_a_secret_is_bound_to_the_kind_it_was_saved_for():
    provider = EmailProviderFactory(secret=STORED)
    assert provider.secret_fits()
    provider.kind = EmailProvider.Kind.GMAIL
    assert not provider.secret_fits()


# --- no password over an unencrypted connection to another machine -----------------------
def test_plain_smtp_login_to_another_machine_is_refused(capture_smtp_elsewhere):
    provider = EmailProviderFactory(**target(capture_smtp_elsewhere), secret=STORED)

    report = check_provider_settings(provider)
    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))

    auth = next(step for step in report.steps if step.name == "AUTH")
    assert auth.ok is False and "not encrypted" in auth.detail
    assert caught.value.reason == "auth_failed" and "not encrypted" in caught.value.detail
    assert capture_smtp_elsewhere.attempts == []


def test_plain_smtp_login_is_sent_when_the_provider_allows_it(capture_smtp_elsewhere):
    provider = EmailProviderFactory(
        **target(capture_smtp_elsewhere), allow_plaintext_auth=True, secret=STORED
    )

    report = check_provider_settings(provider)

    assert report.ok, report.steps
    assert capture_smtp_elsewhere.attempts == [(LOGIN, STORED)]


def test_the_form_offers_the_plaintext_login_checkbox_with_a_warning(client_logged_in):
    response = client_logged_in.get(reverse("providers:create", args=["smtp"]))
    page = response.content.decode()
    assert 'name="allow_plaintext_auth"' in page
    assert "readable by anyone on the way" in page


# --- the audit trail --------------------------------------------------------------------------
def test_test_connection_runs_are_recorded_without_the_secret(
    client_logged_in, user, capture_smtp, closed_port
):
    saved = EmailProviderFactory(**target(capture_smtp), secret=STORED)

    check_connection(client_logged_in, saved, target(capture_smtp))
    check_connection(client_logged_in, saved, target(capture_smtp), port=closed_port, secret=TYPED)

    entries = LogEntry.objects.filter(object_id=str(saved.pk)).order_by("pk")
    messages = [entry.get_change_message() for entry in entries]
    assert [entry.user_id for entry in entries] == [user.pk, user.pk]
    assert f"127.0.0.1:{capture_smtp.port}" in messages[0] and "succeeded" in messages[0]
    assert "the stored secret" in messages[0]
    assert f"127.0.0.1:{closed_port}" in messages[1] and "failed at" in messages[1]
    assert "newly typed secret" in messages[1]
    for message in messages:
        assert STORED not in message and TYPED not in message


def test_a_connection_test_without_any_secret_says_so(client_logged_in, capture_smtp):
    saved = EmailProviderFactory(**{**target(capture_smtp), "username": ""})
    EmailProvider.objects.filter(pk=saved.pk).update(secret_encrypted="", secret_last4="")

    check_connection(client_logged_in, saved, {**target(capture_smtp), "username": ""})

    message = LogEntry.objects.get(object_id=str(saved.pk)).get_change_message()
    assert "without a password" in message
    assert "stored secret" not in message
