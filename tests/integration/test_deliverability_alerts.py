"""A crossed threshold reaches staff: beat's task and the email task run in a real Celery
worker, and the message arrives at a real SMTP server on loopback, once per day."""

import time

import pytest
from django.conf import settings
from django.utils import timezone

from callbacks.models import DailyStat
from deliverability.models import Alert
from deliverability.tasks import check_thresholds
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory, UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]


def wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.05)


def test_alert_email_sent_once_through_the_worker(celery_worker, smtp_server):
    server = smtp_server()
    relay = EmailProviderFactory(
        nickname="Relay", host=server.host, port=server.port, scheme="smtp", username=""
    )
    EmailProvider.objects.mark_default(relay)
    UserFactory(is_staff=True, email="ops@example.com")
    DailyStat.objects.create(
        provider=relay, date=timezone.localdate(), delivered=1000, spam=4
    )  # complaints 0.40%: critical

    check_thresholds.delay()
    wait_for(lambda: Alert.objects.filter(emailed_at__isnull=False).exists())
    [mail] = server.messages
    assert mail.rcpt_tos == ["ops@example.com"]
    assert "Relay complaint rate at 0.40%" in mail.message["Subject"]

    # Beat runs again a minute later: no new alert today, so no email is queued.
    assert check_thresholds.apply().get() == 0
    assert len(server.messages) == 1
    assert Alert.objects.count() == 1
