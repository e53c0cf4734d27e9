"""A test email never stays "queued": lost task messages, and the waits a person sits through.

Real Redis (CELERY_BROKER_URL) and a real Celery worker; a task message is lost the way a
Redis restart without persistence loses it, by deleting it from the queue's list.
"""

import base64
import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from providers.models import TestEmail
from providers.tasks import sweep_test_emails
from tests.factories import EmailProviderFactory
from tests.servers import wait_until_finished

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]

QUEUE = "celery"  # the default queue's list in Redis


def queued_test_email_ids(broker) -> list[int]:
    ids = []
    for raw in broker.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        if message["headers"].get("task") == "providers.tasks.send_test_email":
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.append(args[0])
    return ids


def lose_task_messages(broker, test_email_id: int) -> None:
    """Delete the test email's task messages from the Redis list, as a restart would."""
    for raw in broker.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        if message["headers"].get("task") == "providers.tasks.send_test_email":
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            if args[0] == test_email_id:
                broker.lrem(QUEUE, 0, raw)
    assert test_email_id not in queued_test_email_ids(broker)


@pytest.fixture
def broker():
    from config.celery_app import app as celery_app

    celery_app.control.purge()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield client
    client.close()


def poll_status(client, test_email: TestEmail, timeout: float = 20) -> dict:
    """Watch the page as a person would, until the test email is finished."""
    deadline = time.monotonic() + timeout
    url = reverse("providers:test_email_status", args=[test_email.pk])
    while time.monotonic() < deadline:
        data = client.get(url).json()
        if data["is_finished"]:
            return data
        time.sleep(0.1)
    raise AssertionError(f"test email {test_email.pk} still {data['status']} after {timeout}s")


def test_a_lost_task_is_queued_again_and_the_worker_sends_it(
    request, settings, broker, client_logged_in, smtp_server
):
    settings.TEST_EMAIL_QUEUE_TIMEOUT_SECONDS = 0.5
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
    )
    test_email = TestEmail.objects.get(provider=provider)
    assert queued_test_email_ids(broker) == [test_email.pk]
    lose_task_messages(broker, test_email.pk)
    request.getfixturevalue("celery_worker")  # a worker now: the lost message never reaches it
    sweep_test_emails(now=timezone.now() + timedelta(seconds=1))  # Celery beat's sweep, later

    data = poll_status(client_logged_in, test_email)

    assert data["status"] == "sent"
    test_email.refresh_from_db()
    assert (test_email.requeues, test_email.attempts) == (1, 1)
    assert len(server.messages) == 1


def test_a_task_lost_twice_fails_with_a_clear_reason(broker, client_logged_in):
    provider = EmailProviderFactory()
    client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
    )
    test_email = TestEmail.objects.get(provider=provider)
    lose_task_messages(broker, test_email.pk)
    timeout = timedelta(seconds=settings.TEST_EMAIL_QUEUE_TIMEOUT_SECONDS + 1)

    sweep_test_emails(now=timezone.now() + timeout)  # Celery beat's sweep, a bit later

    assert queued_test_email_ids(broker) == [test_email.pk]  # queued again, once
    lose_task_messages(broker, test_email.pk)
    sweep_test_emails(now=timezone.now() + 2 * timeout)
    sweep_test_emails(now=timezone.now() + 3 * timeout)

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == TestEmail.FailureReason.NOT_PICKED_UP
    assert (test_email.requeues, test_email.attempts) == (1, 0)
    assert queued_test_email_ids(broker) == []  # failed, not queued a third time
    page = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))
    html = page.content.decode()
    assert "No worker picked it up" in html
    assert "check that a worker is running" in html


def test_an_unreachable_sendgrid_fails_within_seconds(
    settings, closed_port, client_logged_in, celery_worker
):
    """Through a real worker with the real retry delays: 71 s over four attempts before."""
    settings.SENDGRID_API_URL = f"http://127.0.0.1:{closed_port}"
    provider = EmailProviderFactory(sendgrid=True)
    started = time.monotonic()
    client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
    )
    test_email = wait_until_finished(TestEmail.objects.get(provider=provider).pk)
    elapsed = time.monotonic() - started

    assert test_email.failure_reason == TestEmail.FailureReason.API_CONNECTION_ERROR
    assert test_email.attempts == 3
    assert elapsed < 12, elapsed
    print(f"unreachable SendGrid: failed after {elapsed:.1f} s over 3 attempts")
