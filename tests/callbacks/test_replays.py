"""A body posted again byte for byte: its events are duplicates, counted without reading it."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.test import Client

from callbacks import inbox, replays
from callbacks.formats import named
from callbacks.models import CallbackLog, DailyStat, PendingBatch
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider

from .conftest import payload, post

pytestmark = pytest.mark.django_db

BODY = payload("sendgrid_events.json")


@pytest.fixture
def sendgrid(make_provider):
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="SendGrid")


@pytest.fixture
def parses(monkeypatch):
    """How many bodies the worker parsed."""
    count = []
    parser = named("sendgrid")
    real_parse = parser.parse
    monkeypatch.setattr(parser, "parse", lambda body: count.append(1) or real_parse(body))
    return count


def state():
    return (
        sorted(Profile.objects.values_list("email", "status", "soft_bounce_count")),
        TimelineEvent.objects.count(),
    )


def logs():
    return list(
        CallbackLog.objects.order_by("pk").values_list("processed", "duplicates", "kind_counts")
    )


def test_a_copy_of_an_applied_body_is_all_duplicates_and_is_not_parsed(client, sendgrid, parses):
    post(client, sendgrid, BODY)
    before = state()
    [(events, _, counts)] = logs()
    assert events > 0 and counts

    post(client, sendgrid, BODY)

    assert len(parses) == 1
    assert state() == before
    assert logs()[1] == (events, events, {})  # what a full apply finds, event by event
    assert sum(DailyStat.objects.values_list("duplicates", flat=True)) == events


def test_the_copy_counts_as_the_full_apply_counts_it(client, sendgrid, make_provider, monkeypatch):
    """Told apart by its digest or by each event's key, a copy leaves the same trace."""
    post(client, sendgrid, BODY)
    post(client, sendgrid, BODY)
    by_digest = (logs(), list(DailyStat.objects.values_list("date", "duplicates", "delivered")))

    other = make_provider(EmailProvider.Kind.SENDGRID, nickname="Keys only")
    CallbackLog.objects.all().delete()
    monkeypatch.setattr(replays, "was_applied", lambda *args: False)
    post(client, other, BODY)
    post(client, other, BODY)
    by_keys = (
        logs(),
        list(
            DailyStat.objects.filter(provider=other).values_list("date", "duplicates", "delivered")
        ),
    )
    assert by_digest == by_keys


def test_other_bodies_and_other_providers_are_read(client, sendgrid, make_provider, parses):
    post(client, sendgrid, BODY)
    post(client, sendgrid, BODY.replace(b"\n", b" "))  # the same events, other bytes
    post(client, make_provider(EmailProvider.Kind.SENDGRID, nickname="Second"), BODY)
    assert len(parses) == 3


def test_only_a_body_applied_in_full_is_remembered(client, sendgrid):
    post(client, sendgrid, BODY)
    post(client, sendgrid, BODY)
    first, copy = CallbackLog.objects.order_by("pk")
    assert bytes(first.body_digest) == replays.digest(BODY)
    assert copy.body_digest is None  # so copies never stretch the window of the first


def test_a_copy_of_a_body_still_waiting_is_read_in_full(sendgrid, parses):
    for _ in range(2):
        Client().post(sendgrid.callback_path, data=BODY, content_type="application/json")
    assert PendingBatch.objects.count() == 2
    first, copy = CallbackLog.objects.order_by("pk")
    assert not replays.was_applied(sendgrid, replays.digest(BODY), copy.received_at)

    assert inbox.apply_pending() == 2

    assert len(parses) == 1  # the first applied in full; by then the copy is known
    assert list(CallbackLog.objects.order_by("pk").values_list("duplicates", flat=True)) == [
        0,
        first.processed,
    ]


def test_a_copy_after_the_dedupe_window_is_read_in_full(client, sendgrid, parses):
    post(client, sendgrid, BODY)
    window = timedelta(days=settings.CALLBACK_DEDUPE_DAYS)
    CallbackLog.objects.update(received_at=F("received_at") - window - timedelta(minutes=1))
    post(client, sendgrid, BODY)
    assert len(parses) == 2
