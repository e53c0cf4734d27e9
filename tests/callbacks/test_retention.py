"""Old de-duplication keys and callback logs are pruned; what an ESP may still retry is kept.

Each test runs both ways retention can go: dropping day partitions (PostgreSQL) and deleting
rows (`deletes`, SQLite's way). Rows dated months before the test database's partitions
were created lie in the DEFAULT partitions until a prune creates their days.
`test_partitions` covers the day partitions themselves.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.checks import run_checks

from callbacks import retention, services
from callbacks.formats.base import CallbackEvent, content_key
from callbacks.models import CallbackLog, PendingBatch, ReceivedEvent
from callbacks.tasks import prune_callback_history
from common import partitions
from config.celery_app import app as celery_app
from providers.models import EmailProvider
from tests.factories import delivered_event

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def deletes(monkeypatch):
    """Retention as on SQLite: rows deleted by age, no partitions."""
    monkeypatch.setattr(partitions, "supported", lambda: False)


@pytest.fixture(params=["partitions", "deletes"])
def either_way(request):
    if request.param == "deletes":
        request.getfixturevalue("deletes")


@pytest.fixture
def provider(make_provider):
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="SG main")


def receive(provider, name: str, *, at: datetime | None, received: datetime) -> CallbackEvent:
    item = delivered_event(name, at)
    assert sum(services.apply_events(provider, [item], now=received).counts.values()) == 1
    return item


def stored_names() -> set[str]:
    keys = {bytes(key) for key in ReceivedEvent.objects.values_list("event_key", flat=True)}
    names = ("old", "recent", "late", "timeless-old", "timeless-recent", "future")
    return {name for name in names if any(key.endswith(stored(name)) for key in keys)}


def stored(name: str) -> bytes:
    return bytes.fromhex(content_key("test", name)[:32])


def test_keys_received_before_the_retention_go_and_the_others_stay(provider, settings, deletes):
    settings.CALLBACK_DEDUPE_DAYS = 7
    now = T0 + 8 * DAY
    receive(provider, "old", at=T0, received=T0 + timedelta(hours=1))
    recent = receive(provider, "recent", at=now - DAY, received=now - DAY)
    # An old event that arrived only lately: kept until its own receipt is 7 days old.
    receive(provider, "late", at=T0, received=now - DAY)
    receive(provider, "timeless-old", at=None, received=T0)
    receive(provider, "timeless-recent", at=None, received=now - DAY)
    receive(provider, "future", at=T0 + 365 * DAY, received=T0)

    assert retention.prune(now=now).keys == 3

    assert stored_names() == {"recent", "late", "timeless-recent"}
    # A retry of a kept event is still recognised.
    assert services.apply_events(provider, [recent], now=now).duplicates == 1


def test_every_provider_is_pruned(provider, make_provider, settings, either_way):
    settings.CALLBACK_DEDUPE_DAYS = 7
    other = make_provider(EmailProvider.Kind.NETCORE, nickname="Netcore")
    receive(provider, "old", at=T0, received=T0)
    receive(other, "old", at=T0, received=T0)
    receive(other, "recent", at=T0 + 9 * DAY, received=T0 + 9 * DAY)

    retention.prune(now=T0 + 10 * DAY)

    assert list(ReceivedEvent.objects.values_list("provider_id", flat=True)) == [other.pk]


def test_a_large_backlog_is_deleted_in_chunks(provider, settings, monkeypatch, deletes):
    settings.CALLBACK_DEDUPE_DAYS = 7
    monkeypatch.setattr(retention, "CHUNK", 3)
    events = [delivered_event(f"bulk-{i}", T0 + timedelta(seconds=i)) for i in range(10)]
    services.apply_events(provider, events, now=T0)

    assert retention.prune(now=T0 + 8 * DAY).keys == 10
    assert not ReceivedEvent.objects.exists()


def callback_log(provider, received_at: datetime, *, pending: bool = False) -> CallbackLog:
    log = CallbackLog.objects.create(provider=provider, status_code=200, applied_at=received_at)
    CallbackLog.objects.filter(pk=log.pk).update(received_at=received_at)
    if pending:
        CallbackLog.objects.filter(pk=log.pk).update(applied_at=None)
        PendingBatch.objects.create(log=log, body=b"[]")
    return log


def test_old_applied_logs_go_but_a_batch_still_waiting_keeps_its_log(
    provider, settings, either_way
):
    settings.CALLBACK_LOG_DAYS = 30
    now = T0 + 31 * DAY
    callback_log(provider, T0)
    waiting = callback_log(provider, T0, pending=True)
    recent = callback_log(provider, now - DAY)

    assert retention.prune(now=now).logs == 1

    assert set(CallbackLog.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}
    assert PendingBatch.objects.get().log_id == waiting.pk


def test_the_hourly_task_prunes(provider, settings, either_way):
    settings.CALLBACK_DEDUPE_DAYS = 7
    receive(provider, "old", at=T0, received=T0)
    callback_log(provider, T0)

    prune_callback_history.apply()

    assert not ReceivedEvent.objects.exists()
    assert not CallbackLog.objects.exists()
    schedule = celery_app.conf.beat_schedule["prune-callback-history"]
    assert schedule["task"] == prune_callback_history.name


def test_a_retention_shorter_than_the_esps_retries_is_refused(settings):
    settings.CALLBACK_DEDUPE_DAYS = 1
    settings.CALLBACK_LOG_DAYS = 0
    ids = {message.id for message in run_checks()}
    assert {"callbacks.E001", "callbacks.E002"} <= ids
