"""deliver_test_email: claims the row, sends through the adapter, stores the verdict."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.models import TestEmail
from providers.sending import (
    DeliveryOutcome,
    compose_test_email,
    deliver_test_email,
    fail_stale_test_emails,
)
from tests.factories import EmailProviderFactory, UserFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def make_test_email(server, recipient="ada@example.org", **provider_fields):
    fields = {
        "host": server.host,
        "port": server.port,
        "scheme": server.scheme,
        "username": SMTP_USER,
        "secret": SMTP_PASSWORD,
    }
    fields.update(provider_fields)
    provider = EmailProviderFactory(**fields)
    return TestEmail.objects.create(
        provider=provider, recipient=recipient, requested_by=UserFactory()
    )


def test_sent_test_email_records_verdict_meta_and_transcript(smtp_server):
    server = smtp_server("starttls", auth=True)
    test_email = make_test_email(server)

    assert deliver_test_email(test_email) is DeliveryOutcome.SENT

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.SENT
    assert test_email.attempts == 1
    assert test_email.esp_status_code == 250
    assert test_email.esp_message_id
    expected_meta = f"ada@example.org|{test_email.pk}|{test_email.provider_id}"
    assert test_email.meta == expected_meta
    assert test_email.started_at and test_email.finished_at
    assert "TLS established" in test_email.transcript
    mail = server.messages[0].message
    assert mail["X-Postdesk-Meta"] == expected_meta
    assert mail["Subject"] == f"Postdesk test email from {test_email.provider.nickname}"
    assert "This is a test email from Postdesk" in mail.get_body(("plain",)).get_content()
    assert f"#{test_email.pk}" in mail.get_body(("html",)).get_content()


def test_a_second_run_after_success_sends_nothing(smtp_server):
    server = smtp_server("smtp")
    test_email = make_test_email(server, username="")

    assert deliver_test_email(test_email) is DeliveryOutcome.SENT
    assert deliver_test_email(TestEmail.objects.get(pk=test_email.pk)) is DeliveryOutcome.SKIPPED

    assert len(server.messages) == 1
    assert TestEmail.objects.get(pk=test_email.pk).attempts == 1


def test_a_row_another_run_is_sending_is_left_alone(smtp_server):
    server = smtp_server("smtp")
    test_email = make_test_email(server, username="")
    TestEmail.objects.filter(pk=test_email.pk).update(status=TestEmail.Status.SENDING)

    assert deliver_test_email(test_email) is DeliveryOutcome.SKIPPED
    assert server.messages == []


def test_permanent_failure_is_recorded_with_the_server_reply(smtp_server):
    server = smtp_server("smtps", auth=True)
    test_email = make_test_email(server, secret="not-the-password")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.FAILED

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == TestEmail.FailureReason.AUTH_FAILED
    assert test_email.esp_status_code == 535
    assert "535" in test_email.failure_detail
    assert "S: 535" in test_email.transcript
    assert "not-the-password" not in test_email.transcript
    assert test_email.finished_at is not None


def test_transient_failure_goes_back_to_queued_when_a_retry_is_allowed(closed_port, db):
    provider = EmailProviderFactory(host="127.0.0.1", port=closed_port, scheme="smtp")
    test_email = TestEmail.objects.create(provider=provider, recipient="ada@example.org")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.RETRY

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.QUEUED
    assert test_email.failure_reason == TestEmail.FailureReason.CONNECTION_ERROR
    assert test_email.attempts == 1
    assert test_email.finished_at is None

    assert deliver_test_email(test_email, may_retry=False) is DeliveryOutcome.FAILED
    test_email.refresh_from_db()
    assert (test_email.status, test_email.attempts) == (TestEmail.Status.FAILED, 2)


def test_refused_recipient_fails_as_invalid_email_id(smtp_server):
    server = smtp_server("smtp", refuse={"ghost@example.org": "550 5.1.1 User unknown"})
    test_email = make_test_email(server, recipient="ghost@example.org", username="")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.FAILED

    test_email.refresh_from_db()
    assert test_email.failure_reason == TestEmail.FailureReason.INVALID_RECIPIENT
    assert test_email.get_failure_reason_display() == "SMTP invalid email ID"


def test_sending_row_older_than_the_limit_is_marked_stale(db):
    provider = EmailProviderFactory()
    test_email = TestEmail.objects.create(
        provider=provider,
        recipient="ada@example.org",
        status=TestEmail.Status.SENDING,
        started_at=timezone.now() - timedelta(hours=1),
    )
    fresh = TestEmail.objects.create(
        provider=provider,
        recipient="ada@example.org",
        status=TestEmail.Status.SENDING,
        started_at=timezone.now(),
    )

    assert fail_stale_test_emails() == 1
    test_email.refresh_from_db()
    assert test_email.failure_reason == TestEmail.FailureReason.STALE
    assert TestEmail.objects.get(pk=fresh.pk).status == TestEmail.Status.SENDING


@pytest.mark.parametrize(("center", "has_links"), [("none", False), ("system", True)])
def test_the_test_email_mentions_inactive_links_only_when_it_has_them(center, has_links):
    provider = EmailProviderFactory(preference_center=center)
    test_email = TestEmail.objects.create(
        provider=provider, recipient="ada@example.org", requested_by=UserFactory()
    )

    message = compose_test_email(test_email, meta="m")

    for body in (message.text, message.html):
        assert ("Email preferences:" in body) is has_links
        assert ("links do not act on test emails" in body) is has_links
