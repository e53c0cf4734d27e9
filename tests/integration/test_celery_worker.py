"""End to end: the page enqueues, a real Celery worker on Redis sends through loopback SMTP."""

import time

import pytest
from django.conf import settings
from django.urls import reverse

from providers.models import TestEmail
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER, wait_until_finished

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]


def test_worker_sends_the_test_email_end_to_end(client_logged_in, smtp_server, celery_worker):
    server = smtp_server("starttls", auth=True)
    provider = EmailProviderFactory(
        host=server.host,
        port=server.port,
        scheme="starttls",
        username=SMTP_USER,
        secret=SMTP_PASSWORD,
        from_name="Acme",
        from_address="news@acme.test",
    )

    response = client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
    )
    test_email = TestEmail.objects.get(provider=provider)
    assert response.url == reverse("providers:test_email", args=[test_email.pk])

    test_email = wait_until_finished(test_email.pk)

    assert test_email.status == TestEmail.Status.SENT, test_email.failure_detail
    assert test_email.attempts == 1
    [received] = server.messages
    assert received.rcpt_tos == ["qa@acme.test"]
    assert received.tls_version
    assert received.message["X-Postdesk-Meta"] == f"qa@acme.test|{test_email.pk}|{provider.pk}"
    status = client_logged_in.get(reverse("providers:test_email_status", args=[test_email.pk]))
    assert status.json()["status"] == "sent"


def test_a_duplicate_task_sends_once(smtp_server, celery_worker):
    from providers.tasks import send_test_email

    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    send_test_email.delay(test_email.pk)
    send_test_email.delay(test_email.pk)  # e.g. redelivered after a lost ack
    wait_until_finished(test_email.pk)
    time.sleep(0.5)  # give the duplicate time to run

    assert len(server.messages) == 1
    assert TestEmail.objects.get(pk=test_email.pk).attempts == 1
