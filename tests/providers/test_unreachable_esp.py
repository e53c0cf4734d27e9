"""Test emails through an API ESP that cannot be reached, does not answer, or refuses the key.

Loopback servers stand in for SendGrid and Netcore; the task runs in-process (Task.apply), so
its retries run at once and the counts, reasons and page words are what is checked here. The
waits themselves are measured with a real worker in tests/integration/test_test_email_queue.py.
"""

import pytest
from django.urls import reverse

from providers import sending
from providers.adapters import DeliveryError
from providers.models import TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from providers.tasks import send_test_email
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SENDGRID_KEY = "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"
NETCORE_KEY = "b7c1e0f24a9d4e5f8c3b6a2d1e0f9c8b"
Reason = TestEmail.FailureReason


def sendgrid(**kwargs):
    return EmailProviderFactory(sendgrid=True, nickname="SG", secret=SENDGRID_KEY, **kwargs)


def netcore(**kwargs):
    return EmailProviderFactory(netcore=True, nickname="NC", secret=NETCORE_KEY, **kwargs)


def run_task(provider) -> TestEmail:
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    send_test_email.apply(args=[test_email.pk])
    test_email.refresh_from_db()
    return test_email


def page_text(client, test_email) -> str:
    return client.get(reverse("providers:test_email", args=[test_email.pk])).content.decode()


def test_unreachable_sendgrid_fails_as_an_api_connection_error_after_two_retries(
    settings, closed_port, client_logged_in
):
    settings.SENDGRID_API_URL = f"http://127.0.0.1:{closed_port}"

    test_email = run_task(sendgrid())

    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == Reason.API_CONNECTION_ERROR
    assert test_email.esp_status_code is None
    assert test_email.attempts == 3
    status = client_logged_in.get(reverse("providers:test_email_status", args=[test_email.pk]))
    assert status.json()["failure_reason_label"] == "API connection error"
    html = page_text(client_logged_in, test_email)
    assert "API connection error" in html
    assert "SMTP" not in html.split("<main", 1)[-1]
    assert "SendGrid said" not in html  # SendGrid said nothing: it was never reached
    assert "What happened" in html
    assert "tries again" not in html and "trying again" not in html  # it has stopped
    assert "tried 3 times and has stopped trying" in html


def test_silent_netcore_fails_as_an_api_timeout_after_one_retry(
    settings, silent_server, client_logged_in
):
    settings.NETCORE_API_URL = f"http://127.0.0.1:{silent_server.port}"
    settings.ESP_HTTP_TIMEOUT_SECONDS = 0.3

    test_email = run_task(netcore())

    assert (test_email.status, test_email.failure_reason) == ("failed", Reason.API_TIMEOUT)
    assert test_email.attempts == 2
    html = page_text(client_logged_in, test_email)
    assert "API timeout" in html and "did not answer in time" in html
    assert "Netcore Cloud said" not in html
    assert "tries once more" not in html


@pytest.mark.parametrize(
    ("make_provider", "api_fixture", "key", "body"),
    [
        (
            sendgrid,
            "sendgrid_api",
            SENDGRID_KEY,
            {"errors": [{"field": None, "message": f"The API key {SENDGRID_KEY} is invalid"}]},
        ),
        (netcore, "netcore_api", NETCORE_KEY, {"message": f"Invalid api_key: {NETCORE_KEY}"}),
    ],
)
def test_a_refused_key_is_not_retried_and_its_echo_is_scrubbed(
    request, client_logged_in, make_provider, api_fixture, key, body
):
    api = request.getfixturevalue(api_fixture)
    api.reply(401, body)
    api.reply(202, {"data": {"message_id": "never"}})  # a retry would succeed: there is none

    test_email = run_task(make_provider())

    assert (test_email.status, test_email.failure_reason) == ("failed", Reason.API_KEY_REFUSED)
    assert (test_email.attempts, len(api.requests)) == (1, 1)
    assert test_email.esp_status_code == 401
    assert key not in test_email.failure_detail
    assert "[redacted]" in test_email.failure_detail
    html = page_text(client_logged_in, test_email)
    status = client_logged_in.get(reverse("providers:test_email_status", args=[test_email.pk]))
    for shown in (html, status.content.decode()):
        assert key not in shown
        assert key.split(".")[-1] not in shown  # nor the secret part of a SendGrid key
    assert "API refused the key" in html
    assert "said (code 401)" in html  # this time the ESP did answer
    assert "does not retry" in html


def test_a_server_error_is_retried_and_the_page_says_so_while_waiting(
    sendgrid_api, client_logged_in
):
    sendgrid_api.reply(503, {"errors": [{"message": "Service unavailable"}]})
    test_email = TestEmail.objects.create(provider=sendgrid(), recipient="qa@acme.test")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.RETRY

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.QUEUED
    assert test_email.due_at > test_email.created_at  # the next attempt's time
    html = page_text(client_logged_in, test_email)
    assert "Attempt 1 failed" in html and "tries again shortly" in html


def test_the_secret_is_scrubbed_from_what_any_adapter_error_stores(closed_port):
    """Belt and braces: whatever the adapter's words, the stored detail never holds the key."""
    provider = EmailProviderFactory(host="127.0.0.1", port=closed_port, secret="hunter2-smtp-pw")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    test_email.refresh_from_db()
    sending._record_failure(
        test_email,
        DeliveryError("auth_failed", "535 bad password hunter2-smtp-pw"),
        "C: AUTH PLAIN hunter2-smtp-pw",
        "meta",
        due_at=None,
    )
    test_email.refresh_from_db()
    assert "hunter2-smtp-pw" not in test_email.failure_detail + test_email.transcript


@pytest.mark.parametrize(
    ("reason", "transient", "retries"),
    [
        (Reason.API_KEY_REFUSED, False, 0),
        (Reason.AUTH_FAILED, False, 0),
        (Reason.ESP_REJECTED, False, 0),  # a 400: the same request fails the same way
        (Reason.ESP_REJECTED, True, 2),  # a 5xx or 429
        (Reason.API_CONNECTION_ERROR, True, 2),
        (Reason.CONNECTION_ERROR, True, 2),
        (Reason.API_TIMEOUT, True, 1),
        (Reason.TIMEOUT, True, 1),
    ],
)
def test_retries_are_decided_by_the_reason(reason, transient, retries):
    assert sending.retries_allowed(DeliveryError(reason, "", transient=transient)) == retries


def test_the_wait_for_an_unreachable_api_is_seconds_not_a_minute():
    """Waits between attempts of a refused connection: 71 s over four attempts before."""
    error = DeliveryError(Reason.API_CONNECTION_ERROR, "", transient=True)
    waits = [sending.retry_delay(n) for n in range(sending.retries_allowed(error))]
    assert sum(waits) <= 10
