"""The Celery task run in-process (Task.apply): retries transient failures up to the cap."""

import pytest

from providers.models import TestEmail
from providers.tasks import MAX_RETRIES, send_test_email
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_transient_failure_is_retried_up_to_the_cap(closed_port):
    provider = EmailProviderFactory(host="127.0.0.1", port=closed_port, scheme="smtp")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    send_test_email.apply(args=[test_email.pk])

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == TestEmail.FailureReason.CONNECTION_ERROR
    assert test_email.attempts == MAX_RETRIES + 1


def test_permanent_failure_is_not_retried(smtp_server):
    server = smtp_server("smtp", refuse={"ghost@acme.test": "550 5.1.1 User unknown"})
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    test_email = TestEmail.objects.create(provider=provider, recipient="ghost@acme.test")

    send_test_email.apply(args=[test_email.pk])

    test_email.refresh_from_db()
    assert (test_email.status, test_email.attempts) == (TestEmail.Status.FAILED, 1)
    assert test_email.failure_reason == TestEmail.FailureReason.INVALID_RECIPIENT


def test_rerun_after_success_does_nothing(smtp_server):
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    assert send_test_email.apply(args=[test_email.pk]).get() == "sent"
    assert send_test_email.apply(args=[test_email.pk]).get() == "skipped"

    assert len(server.messages) == 1


def test_missing_row_is_skipped(db):
    assert send_test_email.apply(args=[987654]).get() == "skipped"
