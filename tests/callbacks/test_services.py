"""services.apply_events: idempotency, stats, test emails, atomicity and a constant query count.

What the events do to profiles (the profile rules) is tested in tests/profiles/test_suppression.py.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from callbacks import dedupe, services, test_email_events
from callbacks.formats.netcore import FORMAT as netcore
from callbacks.formats.sendgrid import FORMAT as sendgrid
from callbacks.models import (
    DailyStat,
    EventKind,
    ReceivedEvent,
    SoftBouncePolicy,
    TestEmailEvent,
)
from profiles import state_sql
from profiles.models import Profile, TimelineEvent
from providers.adapters import make_meta
from providers.models import EmailProvider, TestEmail
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def sg(*events) -> list:
    """SendGrid events from (name, email, seconds after T0, extra) tuples."""
    body = []
    for i, (name, email, offset, *extra) in enumerate(events):
        item = {
            "event": name,
            "email": email,
            "timestamp": int((T0 + timedelta(seconds=offset)).timestamp()),
            "sg_event_id": f"ev-{name}-{email}-{offset}-{i}",
        }
        item.update(*extra)
        body.append(item)
    return sendgrid.parse(json.dumps(body).encode())


@pytest.fixture
def provider(make_provider):
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="SG main")


def profile(email):
    return Profile.objects.get(email=email)


DAY = 24 * 3600
BLOCKED = {"type": "blocked"}


@pytest.fixture
def opted_in(db):
    """An admin chose "Inactive after 3 soft bounces within 14 days"."""
    return SoftBouncePolicy.objects.create(pk=1, threshold=3, window_days=14)


def test_ignored_events_are_counted_but_touch_no_profile(provider):
    result = services.apply_events(
        provider, sg(("open", "a@example.com", 0), ("deferred", "a@example.com", 1))
    )
    assert result.ignored == 2
    assert not Profile.objects.exists()
    assert DailyStat.objects.get().ignored == 2


def test_duplicates_inside_one_batch_count_once(provider):
    events = sg(("delivered", "a@example.com", 0))
    result = services.apply_events(provider, [*events, *events, *events])
    assert (result.duplicates, sum(result.counts.values())) == (2, 1)
    # Deliveries count on the day of the event, duplicates on the day they arrived.
    assert DailyStat.objects.get(date=T0.date()).delivered == 1
    assert sum(DailyStat.objects.values_list("duplicates", flat=True)) == 2


def test_dedupe_keys_are_per_provider(make_provider):
    first = make_provider(EmailProvider.Kind.NETCORE)
    second = make_provider(EmailProvider.Kind.NETCORE)
    body = b'[{"EVENT": "sent", "EMAIL": "a@example.com", "TIMESTAMP": 1, "TRANSID": 1}]'
    assert sum(services.apply_events(first, netcore.parse(body)).counts.values()) == 1
    assert sum(services.apply_events(second, netcore.parse(body)).counts.values()) == 1
    assert services.apply_events(first, netcore.parse(body)).duplicates == 1


def test_stats_are_per_day_of_the_event(provider):
    services.apply_events(
        provider,
        sg(("delivered", "a@example.com", 0), ("delivered", "b@example.com", 2 * DAY)),
    )
    assert list(DailyStat.objects.order_by("date").values_list("date", "delivered")) == [
        (T0.date(), 1),
        ((T0 + timedelta(days=2)).date(), 1),
    ]


def test_a_failing_batch_applies_nothing(provider, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(state_sql, "insert_timeline", boom)
    with pytest.raises(RuntimeError):
        services.apply_events(provider, sg(("spamreport", "a@example.com", 0)))
    assert not ReceivedEvent.objects.exists()
    assert not Profile.objects.exists()
    assert not DailyStat.objects.exists()
    monkeypatch.undo()
    # …so the ESP's retry is applied in full.
    assert (
        sum(services.apply_events(provider, sg(("spamreport", "a@example.com", 0))).counts.values())
        == 1
    )
    assert profile("a@example.com").status == "inactive"


def mixed_batch(size: int, offset: int = 0) -> list:
    kinds = [
        ("delivered", {}),
        ("bounce", {"type": "bounce"}),
        ("bounce", BLOCKED),
        ("dropped", {"reason": "Invalid"}),
        ("spamreport", {}),
        ("unsubscribe", {}),
        ("open", {}),
    ]
    return sg(
        *[
            (
                kinds[i % 7][0],
                f"user{(i + offset) % (size // 2 + 1)}@example.com",
                i,
                kinds[i % 7][1],
            )
            for i in range(size)
        ]
    )


def test_a_batch_costs_a_constant_number_of_queries(provider, django_assert_max_num_queries):
    ProfileFactory.create_batch(5)
    SoftBouncePolicy.current()
    counts = []
    for size, offset in ((10, 0), (1000, 10_000)):
        events = mixed_batch(size, offset)
        with CaptureQueriesContext(connection) as queries:
            services.apply_events(provider, events)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        services.apply_events(provider, mixed_batch(1000, 50_000))
    assert counts[0] <= 12


def test_a_replayed_batch_costs_fewer_queries_and_changes_nothing(provider):
    events = mixed_batch(200)
    services.apply_events(provider, events)
    snapshot = list(Profile.objects.values_list("email", "status", "soft_bounce_count"))
    timeline = TimelineEvent.objects.count()
    result = services.apply_events(provider, events)
    assert (sum(result.counts.values()), result.duplicates) == (0, 200)
    assert list(Profile.objects.values_list("email", "status", "soft_bounce_count")) == snapshot
    assert TimelineEvent.objects.count() == timeline


def test_event_kinds_all_have_stat_columns():
    names = {f.name for f in DailyStat._meta.get_fields()}
    assert {k.value for k in EventKind} <= names


def test_stored_keys_sort_by_the_time_of_the_event():
    """A batch's keys sit together in the index, next to the other recent ones."""
    events = sg(("delivered", "a@example.com", 3600), ("delivered", "b@example.com", 0))
    later, earlier = (dedupe.stored_key(event) for event in events)
    assert earlier < later
    assert earlier[:8] == int(T0.timestamp()).to_bytes(8, "big")
    assert later[8:] == bytes.fromhex(events[0].dedupe_key)[:16]
    assert len(later) == 24


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_key_starts_with_the_whole_seconds_since_the_epoch_rounded_down(at):
    """Keys stored by every earlier version must still meet their replays."""
    seconds = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    assert dedupe.key_prefix(at) == seconds.to_bytes(8, "big", signed=True)


def test_an_event_without_a_time_has_a_key_after_all_timed_ones():
    timed, untimed = sg(("delivered", "a@example.com", 0), ("delivered", "b@example.com", 0))
    untimed.occurred_at = None
    assert dedupe.stored_key(timed) < dedupe.stored_key(untimed)
    assert dedupe.stored_key(untimed)[:8] == b"\x7f" + b"\xff" * 7


# --- events attributed to test emails --------------------------------------------------------


def test_events_whose_meta_names_a_test_email_are_recorded_for_it(provider, make_provider):
    test_email = TestEmail.objects.create(provider=provider, recipient="me@example.com")
    other = TestEmail.objects.create(provider=make_provider(), recipient="me@example.com")
    meta = make_meta("me@example.com", test_email.pk, provider.pk)
    events = sg(
        ("delivered", "me@example.com", 0, {"meta": meta}),
        ("bounce", "me@example.com", 1, {"meta": meta, "type": "bounce", "reason": "gone"}),
        ("spamreport", "me@example.com", 2, {"meta": meta}),
        ("open", "me@example.com", 3, {"meta": meta}),  # logged only
        ("delivered", "x@example.com", 4, {"meta": make_meta("x@example.com", other.pk, 1)}),
        ("delivered", "y@example.com", 5, {"meta": "y@example.com|999999|"}),
        ("delivered", "z@example.com", 6, {"meta": "z@example.com|send-42|"}),
        ("delivered", "w@example.com", 7, {"meta": "w|" + "9" * 40 + "|"}),
    )
    services.apply_events(provider, events, now=T0 + timedelta(minutes=1))
    recorded = list(
        TestEmailEvent.objects.values_list("test_email", "kind", "occurred_at", "description")
    )
    assert recorded == [
        (test_email.pk, "delivered", T0, ""),
        (test_email.pk, "hard_bounce", T0 + timedelta(seconds=1), "gone"),
        (test_email.pk, "spam", T0 + timedelta(seconds=2), ""),
    ]
    assert TestEmailEvent.objects.first().received_at == T0 + timedelta(minutes=1)
    # A replay records nothing twice.
    services.apply_events(provider, events, now=T0 + timedelta(minutes=2))
    assert TestEmailEvent.objects.count() == 3


def test_events_for_a_test_email_change_no_profile_but_count_in_stats(provider):
    colleague = ProfileFactory(email="me@example.com")
    test_email = TestEmail.objects.create(provider=provider, recipient="me@example.com")
    typo = TestEmail.objects.create(provider=provider, recipient="typo@exmaple.com")
    events = sg(
        (
            "bounce",
            "me@example.com",
            0,
            {"meta": make_meta("me@example.com", test_email.pk, provider.pk), "type": "bounce"},
        ),
        (
            "spamreport",
            "me@example.com",
            1,
            {"meta": make_meta("me@example.com", test_email.pk, provider.pk)},
        ),
        (
            "bounce",
            "typo@exmaple.com",
            2,
            {"meta": make_meta("typo@exmaple.com", typo.pk, provider.pk), "type": "bounce"},
        ),
    )
    services.apply_events(provider, events, now=T0 + timedelta(minutes=1))

    colleague.refresh_from_db()
    assert colleague.status == Profile.Status.ACTIVE
    assert not TimelineEvent.objects.exists()
    assert not Profile.objects.filter(email="typo@exmaple.com").exists()
    assert TestEmailEvent.objects.count() == 3
    stat = DailyStat.objects.get(provider=provider)
    assert (stat.hard_bounce, stat.spam) == (2, 1)


def test_attributing_events_to_test_emails_costs_one_query_whatever_the_batch(provider):
    test_email = TestEmail.objects.create(provider=provider, recipient="me@example.com")
    meta = make_meta("me@example.com", test_email.pk, provider.pk)
    counts = []
    for size in (2, 500):
        events = sg(
            *[("delivered", f"u{size}-{i}@example.com", i, {"meta": meta}) for i in range(size)]
        )
        with CaptureQueriesContext(connection) as queries:
            services.apply_events(provider, events)
        counts.append(sum("callbacks_testemailevent" in q["sql"] for q in queries.captured_queries))
    assert counts == [1, 1]
    assert test_email.events.count() == 502


def test_meta_names_a_test_email_only_in_the_documented_shape():
    assert test_email_events.named_test_email("a|b@example.com|12|3") == 12
    assert test_email_events.named_test_email("a@example.com|12|") == 12
    assert test_email_events.named_test_email("a@example.com|send-12|") is None
    assert test_email_events.named_test_email("a@example.com|１２|") is None  # not ASCII digits
    assert test_email_events.named_test_email("12") is None
    assert test_email_events.named_test_email("") is None


def test_every_event_kind_but_ignored_is_a_delivery_result_for_profiles():
    """Callbacks maps its kinds onto profiles' words; the values stay the stored reasons."""
    assert set(services.PROFILE_RESULT) == set(EventKind) - {EventKind.IGNORED}
    assert all(kind.value == result.value for kind, result in services.PROFILE_RESULT.items())


@given(
    now=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2090, 1, 1)),
    offset=st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(hours=2)),
    zone=st.sampled_from(
        ["UTC", "America/New_York", "America/Santiago", "Asia/Kolkata", "Pacific/Chatham"]
    ),
)
def test_an_event_counts_on_its_local_day(now, offset, zone):
    """The stats' quick day lookup gives the day a conversion gives, across midnights and DST."""
    from django.utils import timezone as django_timezone

    from callbacks.stats import LocalDays

    with django_timezone.override(zone):
        current = django_timezone.get_current_timezone()
        now = now.replace(tzinfo=UTC)
        at = now + offset
        assert LocalDays(now)(at) == at.astimezone(current).date()
