"""Several inbox batches per worker transaction: one commit, each batch still fails alone."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from callbacks import inbox, services
from callbacks.models import CallbackLog, DailyStat, PendingBatch, ReceivedEvent
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider

from .conftest import requires_postgres

pytestmark = [pytest.mark.django_db, requires_postgres]


class WorkerDied(BaseException):
    """Not an Exception: nothing in the worker catches it, as nothing survives a killed process."""


@pytest.fixture
def sendgrid(make_provider):
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="Grid")


def accept(provider, batch: int) -> None:
    """Accept a batch of two hard bounces, new addresses and event ids for each `batch`."""
    events = [
        {
            "event": "bounce",
            "type": "bounce",
            "email": f"b{batch}-{i}@example.org",
            "timestamp": 1_700_000_000 + batch,
            "sg_event_id": f"ev-{batch}-{i}",
        }
        for i in range(2)
    ]
    response = Client().post(
        provider.callback_path, data=json.dumps(events), content_type="application/json"
    )
    assert response.status_code == 200


def hard_bounces(provider) -> int:
    return sum(DailyStat.objects.filter(provider=provider).values_list("hard_bounce", flat=True))


def test_a_worker_applies_several_batches_with_one_lock_and_one_stats_write(sendgrid, settings):
    settings.CALLBACK_BATCHES_PER_TRANSACTION = 4
    for batch in range(3):
        accept(sendgrid, batch)

    with CaptureQueriesContext(connection) as queries:
        assert inbox.apply_pending() == 3

    sql = [query["sql"] for query in queries]
    assert len([s for s in sql if "SKIP LOCKED" in s]) == 2  # the group, then none
    assert len([s for s in sql if 'INSERT INTO "callbacks_dailystat"' in s]) == 1
    assert hard_bounces(sendgrid) == 6
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).count() == 6
    assert not PendingBatch.objects.exists()
    assert all(log.applied_at for log in CallbackLog.objects.all())


def test_a_failing_batch_of_a_group_waits_alone_and_the_others_apply_once(
    sendgrid, settings, monkeypatch
):
    settings.CALLBACK_BATCHES_PER_TRANSACTION = 4
    for batch in range(3):
        accept(sendgrid, batch)
    real_apply = services.apply_events

    def fail_the_second(provider, events, **kwargs):
        if events[0].email.startswith("b1-"):
            real_apply(provider, events, **kwargs)  # its writes must roll back too
            raise RuntimeError("this batch is broken")
        return real_apply(provider, events, **kwargs)

    monkeypatch.setattr(services, "apply_events", fail_the_second)
    assert inbox.apply_pending() == 2

    waiting = PendingBatch.objects.get()
    assert b"b1-" in bytes(waiting.body) and waiting.attempts == 1
    assert waiting.last_error == "RuntimeError: this batch is broken"
    assert hard_bounces(sendgrid) == 4  # the broken batch counted nothing
    assert not Profile.objects.filter(email__startswith="b1-").exists()
    assert ReceivedEvent.objects.count() == 4

    monkeypatch.undo()
    PendingBatch.objects.update(retry_at=waiting.log.received_at)
    assert inbox.apply_pending() == 1
    assert hard_bounces(sendgrid) == 6
    assert TimelineEvent.objects.count() == 12  # a failure and an unsubscribe each, once


def test_a_worker_dying_mid_group_loses_nothing_and_the_next_applies_each_once(
    sendgrid, settings, monkeypatch
):
    settings.CALLBACK_BATCHES_PER_TRANSACTION = 4
    for batch in range(3):
        accept(sendgrid, batch)
    real_apply = services.apply_events

    def die_on_the_third(provider, events, **kwargs):
        if events[0].email.startswith("b2-"):
            raise WorkerDied
        return real_apply(provider, events, **kwargs)

    monkeypatch.setattr(services, "apply_events", die_on_the_third)
    with pytest.raises(WorkerDied):
        inbox.apply_pending()

    assert PendingBatch.objects.count() == 3
    assert set(PendingBatch.objects.values_list("attempts", flat=True)) == {0}
    assert not Profile.objects.exists()
    assert not DailyStat.objects.exists()
    assert not ReceivedEvent.objects.exists()

    monkeypatch.undo()
    assert inbox.apply_pending() == 3
    assert hard_bounces(sendgrid) == 6
    assert ReceivedEvent.objects.count() == 6
    assert TimelineEvent.objects.count() == 12


def test_when_the_groups_counters_fail_its_batches_are_applied_one_by_one(
    sendgrid, settings, monkeypatch
):
    settings.CALLBACK_BATCHES_PER_TRANSACTION = 4
    for batch in range(3):
        accept(sendgrid, batch)

    def refuse(book):
        raise RuntimeError("the stats table is locked away")

    monkeypatch.setattr(inbox, "write_stats", refuse)
    assert inbox.apply_pending() == 3  # alone, each writes its own counters
    assert hard_bounces(sendgrid) == 6
    assert not PendingBatch.objects.exists()


def test_counters_of_several_providers_are_written_in_one_statement(make_provider, settings):
    settings.CALLBACK_BATCHES_PER_TRANSACTION = 4
    first = make_provider(EmailProvider.Kind.SENDGRID, nickname="First")
    second = make_provider(EmailProvider.Kind.SENDGRID, nickname="Second")
    accept(second, 0)
    accept(first, 1)
    accept(second, 2)

    assert inbox.apply_pending() == 3
    assert (hard_bounces(first), hard_bounces(second)) == (2, 4)
