from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu import Connection

from callbacks.models import CallbackLog, PendingBatch
from config.celery_app import app as celery_app
from tests.factories import EmailProviderFactory


def waiting_batch(due_seconds_ago: float, attempts: int = 0) -> PendingBatch:
    """A batch in the inbox that became due `due_seconds_ago` (negative: not due yet)."""
    log = CallbackLog.objects.create(provider=EmailProviderFactory(), status_code=200, processed=1)
    retry_at = timezone.now() - timedelta(seconds=due_seconds_ago)
    return PendingBatch.objects.create(log=log, body=b"[]", attempts=attempts, retry_at=retry_at)


@pytest.mark.django_db
def test_health_reports_database_and_broker(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "inbox_lag_seconds": 0,
        "inbox": "ok",
    }


@pytest.mark.django_db
def test_health_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    # Port 1 on loopback refuses connections: a broker that is down.
    monkeypatch.setattr(
        celery_app, "connection_for_write", lambda: Connection("redis://127.0.0.1:1/0")
    )
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_health_answers_only_get(client):
    assert client.post(reverse("health")).status_code == 405


@pytest.mark.django_db
def test_health_is_503_when_a_due_batch_waits_past_the_inbox_lag_threshold(client, settings):
    settings.HEALTH_INBOX_LAG_SECONDS = 300
    waiting_batch(due_seconds_ago=30)
    waiting_batch(due_seconds_ago=420)
    response = client.get(reverse("health"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["inbox"] == "lagging"
    assert 420 <= body["inbox_lag_seconds"] < 430
    assert (body["database"], body["broker"]) == ("ok", "ok")


@pytest.mark.django_db
def test_health_stays_ok_while_the_inbox_keeps_up(client, settings):
    """A fresh batch, and a failed one waiting for its retry however old, are no lag."""
    settings.HEALTH_INBOX_LAG_SECONDS = 300
    waiting_batch(due_seconds_ago=5)
    waiting_batch(due_seconds_ago=-600, attempts=4)
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json()["inbox"] == "ok"
    assert 5 <= response.json()["inbox_lag_seconds"] < 15
