"""services.apply_events: state, policy, idempotency, atomicity and a constant query count."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callbacks import services
from callbacks.formats.netcore import FORMAT as netcore
from callbacks.formats.sendgrid import FORMAT as sendgrid
from callbacks.models import (
    DailyStat,
    EventKind,
    ReceivedEvent,
    SoftBouncePolicy,
    TestEmailEvent,
)
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


def test_soft_bounces_count_and_the_third_within_14_days_inactivates(provider, opted_in):
    events = sg(
        ("bounce", "a@example.com", 0, BLOCKED),
        ("bounce", "a@example.com", 3 * DAY, BLOCKED),
    )
    services.apply_events(provider, events, now=T0 + timedelta(days=3))
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count) == (Profile.Status.ACTIVE, 2)
    result = services.apply_events(
        provider,
        sg(("bounce", "a@example.com", 10 * DAY, BLOCKED)),
        now=T0 + timedelta(days=10, minutes=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.inactive_reason, p.soft_bounce_count) == ("inactive", "soft_bounce", 3)
    assert p.inactive_since == T0 + timedelta(days=10)
    assert result.inactivated == 1
    kinds = list(p.timeline.values_list("kind", flat=True))
    assert kinds.count(TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED) == 1
    assert kinds.count(TimelineEvent.Kind.NOTIFICATION_FAILED) == 3


def test_soft_bounces_outside_the_window_start_a_new_count(provider, opted_in):
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 0, BLOCKED),
            ("bounce", "a@example.com", 1 * DAY, BLOCKED),
        ),
        now=T0 + timedelta(days=1),
    )
    services.apply_events(
        provider, sg(("bounce", "a@example.com", 20 * DAY, BLOCKED)), now=T0 + timedelta(days=20)
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count) == ("active", 1)
    assert p.soft_bounce_since == T0 + timedelta(days=20)


def test_a_delivery_resets_the_soft_bounce_count(provider, opted_in):
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 0, BLOCKED),
            ("bounce", "a@example.com", 60, BLOCKED),
            ("delivered", "a@example.com", 120),
            ("bounce", "a@example.com", 180, BLOCKED),
        ),
        now=T0 + timedelta(hours=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count) == ("active", 1)


def test_soft_bounces_are_only_counted_by_default(provider):
    """Seed 002: soft bounces "do not mark the users as unsubscribed"; seed 003: unsubscribed
    "excluding soft bounces". No admin chose a policy, so the default, never, applies."""
    assert not SoftBouncePolicy.objects.exists()
    result = services.apply_events(
        provider,
        sg(*[("bounce", "a@example.com", i * 60, BLOCKED) for i in range(10)]),
        now=T0 + timedelta(hours=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count, result.inactivated) == ("active", 10, 0)
    assert not p.timeline.filter(kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED).exists()
    assert not SoftBouncePolicy.objects.exists()  # applying events chooses nothing


def test_never_policy_keeps_soft_bouncing_addresses_active(provider):
    SoftBouncePolicy.objects.update_or_create(pk=1, defaults={"threshold": None})
    services.apply_events(
        provider,
        sg(*[("bounce", "a@example.com", i * 60, BLOCKED) for i in range(10)]),
        now=T0 + timedelta(hours=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count) == ("active", 10)


def test_an_unknown_address_is_suppressed_and_an_import_keeps_it_inactive(provider):
    services.apply_events(provider, sg(("spamreport", "New.Person@Example.com", 0)))
    p = profile("new.person@example.com")  # stored normalised
    assert (p.status, p.inactive_reason, p.inactive_provider) == ("inactive", "spam", "SG main")
    # An import meets the existing row instead of creating an Active one.
    imported, created = Profile.objects.get_or_create(
        email="new.person@example.com", defaults={"name": "New Person"}
    )
    assert not created and imported.status == Profile.Status.INACTIVE


def test_an_inactive_profile_keeps_its_first_reason(provider):
    services.apply_events(provider, sg(("unsubscribe", "a@example.com", 0)))
    services.apply_events(provider, sg(("bounce", "a@example.com", 60, {"type": "bounce"})))
    p = profile("a@example.com")
    assert (p.inactive_reason, p.inactive_since) == ("unsubscribed", T0)


def test_existing_profiles_are_updated_not_duplicated(provider):
    ProfileFactory(email="a@example.com", name="Ada")
    services.apply_events(provider, sg(("dropped", "A@EXAMPLE.COM", 0, {"reason": "Invalid"})))
    p = profile("a@example.com")
    assert (p.name, p.status, p.inactive_reason) == ("Ada", "inactive", "invalid")
    assert Profile.objects.count() == 1


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
    assert (result.duplicates, result.new) == (2, 1)
    # Deliveries count on the day of the event, duplicates on the day they arrived.
    assert DailyStat.objects.get(date=T0.date()).delivered == 1
    assert sum(DailyStat.objects.values_list("duplicates", flat=True)) == 2


def test_dedupe_keys_are_per_provider(make_provider):
    first = make_provider(EmailProvider.Kind.NETCORE)
    second = make_provider(EmailProvider.Kind.NETCORE)
    body = b'[{"EVENT": "sent", "EMAIL": "a@example.com", "TIMESTAMP": 1, "TRANSID": 1}]'
    assert services.apply_events(first, netcore.parse(body)).new == 1
    assert services.apply_events(second, netcore.parse(body)).new == 1
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

    monkeypatch.setattr(services, "_insert_timeline", boom)
    with pytest.raises(RuntimeError):
        services.apply_events(provider, sg(("spamreport", "a@example.com", 0)))
    assert not ReceivedEvent.objects.exists()
    assert not Profile.objects.exists()
    assert not DailyStat.objects.exists()
    monkeypatch.undo()
    # …so the ESP's retry is applied in full.
    assert services.apply_events(provider, sg(("spamreport", "a@example.com", 0))).new == 1
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
    assert (result.new, result.duplicates) == (0, 200)
    assert list(Profile.objects.values_list("email", "status", "soft_bounce_count")) == snapshot
    assert TimelineEvent.objects.count() == timeline


def test_policy_preview_and_save(provider):
    now = datetime.now(UTC)
    ProfileFactory(email="two@example.com", soft_bounce_count=2, soft_bounce_since=now)
    ProfileFactory(email="five@example.com", soft_bounce_count=5, soft_bounce_since=now)
    ProfileFactory(
        email="old@example.com", soft_bounce_count=5, soft_bounce_since=now - timedelta(days=40)
    )
    assert services.profiles_meeting_policy(2, 14).count() == 2
    assert services.profiles_meeting_policy(3, 60).count() == 2
    assert services.profiles_meeting_policy(None, 14).count() == 0
    affected = services.save_policy(SoftBouncePolicy(threshold=3, window_days=14))
    assert affected == 1
    assert profile("five@example.com").inactive_reason == "soft_bounce"
    assert profile("two@example.com").status == "active"
    assert SoftBouncePolicy.current().threshold == 3
    assert SoftBouncePolicy.objects.count() == 1


def test_event_kinds_all_have_stat_columns():
    names = {f.name for f in DailyStat._meta.get_fields()}
    assert {k.value for k in EventKind} <= names


def test_stored_keys_sort_by_the_time_of_the_event():
    """A batch's keys sit together in the index, next to the other recent ones."""
    events = sg(("delivered", "a@example.com", 3600), ("delivered", "b@example.com", 0))
    later, earlier = (services.stored_key(event) for event in events)
    assert earlier < later
    assert earlier[:8] == int(T0.timestamp()).to_bytes(8, "big")
    assert later[8:] == bytes.fromhex(events[0].dedupe_key)[:16]
    assert len(later) == 24


def test_an_event_without_a_time_has_a_key_after_all_timed_ones():
    timed, untimed = sg(("delivered", "a@example.com", 0), ("delivered", "b@example.com", 0))
    untimed.occurred_at = None
    assert services.stored_key(timed) < services.stored_key(untimed)
    assert services.stored_key(untimed)[:8] == b"\x7f" + b"\xff" * 7


def test_a_batch_writes_only_the_profiles_it_changes(provider):
    quiet, bouncing = ProfileFactory(), ProfileFactory()
    before = Profile.objects.get(pk=quiet.pk).updated_at
    with CaptureQueriesContext(connection) as queries:
        services.apply_events(
            provider, sg(("delivered", quiet.email, 0), ("bounce", bouncing.email, 1))
        )
    assert Profile.objects.get(pk=quiet.pk).updated_at == before
    assert Profile.objects.get(pk=bouncing.pk).status == Profile.Status.INACTIVE
    (update,) = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert "profiles_profile" in update


def test_timeline_properties_name_the_provider_and_leave_out_what_the_event_lacks(
    provider, opted_in
):
    services.apply_events(
        provider,
        sg(
            ("delivered", "a@example.com", 0, {"meta": "a|send-1|"}),
            ("bounce", "b@example.com", 1, {"type": "bounce", "status": "5.1.1", "reason": "gone"}),
            ("bounce", "c@example.com", 2, BLOCKED),
            ("bounce", "c@example.com", 3, BLOCKED),
            ("bounce", "c@example.com", 4, BLOCKED),
        ),
        now=T0 + timedelta(seconds=5),
    )
    properties = {
        (event.profile.email, event.kind, event.occurred_at - T0): event.properties
        for event in TimelineEvent.objects.select_related("profile")
    }
    named = {"Provider": "SendGrid", "Provider nickname": "SG main"}
    sent = {**named, "esp_event": "delivered", "meta": "a|send-1|"}
    assert properties[("a@example.com", "notification_delivered", timedelta(0))] == {
        **sent,
        "event_id": "ev-delivered-a@example.com-0-0",
    }
    bounce = {**named, "esp_event": "bounce"}
    failed = {**bounce, "event_id": "ev-bounce-b@example.com-1-1"}
    assert properties[("b@example.com", "notification_failed", timedelta(seconds=1))] == {
        **failed,
        "Error": "Hard bounce",
        "reason": "5.1.1 gone",
    }
    assert properties[("b@example.com", "channel_unsubscribed", timedelta(seconds=1))] == {
        **failed,
        "Type": "Hard bounce",
        "reason": "5.1.1 gone",
    }
    third = {**bounce, "event_id": "ev-bounce-c@example.com-4-4"}
    assert properties[("c@example.com", "notification_failed", timedelta(seconds=4))] == {
        **third,
        "Error": "Soft bounce",
    }
    assert properties[("c@example.com", "channel_unsubscribed", timedelta(seconds=4))] == {
        **third,
        "Type": "Repeated soft bounces",
        "reason": "3 soft bounces within 14 days",
    }


# --- Channel Unsubscribed once ---------------------------------------------------------------


def kinds_on_timeline(email: str) -> list[tuple[str, str]]:
    """(kind, Error or Type) of a profile's timeline, oldest first."""
    events = TimelineEvent.objects.filter(profile__email=email).order_by("occurred_at", "id")
    return [(e.kind, e.properties.get("Error") or e.properties.get("Type", "")) for e in events]


FAILED_ROW = TimelineEvent.Kind.NOTIFICATION_FAILED
UNSUBSCRIBED_ROW = TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED


def test_channel_unsubscribed_is_raised_once_when_the_profile_becomes_unsubscribed(provider):
    services.apply_events(provider, sg(("unsubscribe", "a@example.com", 0)), now=T0)
    result = services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 60, {"type": "bounce"}),
            ("spamreport", "a@example.com", 120),
            ("unsubscribe", "a@example.com", 180),
            ("dropped", "a@example.com", 240, {"reason": "Bounced Address"}),
        ),
        now=T0 + timedelta(minutes=5),
    )
    assert result.inactivated == 0
    assert kinds_on_timeline("a@example.com") == [
        (UNSUBSCRIBED_ROW, "Unsubscribed"),
        (FAILED_ROW, "Hard bounce"),
        (FAILED_ROW, "Dropped"),
    ]
    assert profile("a@example.com").inactive_reason == "unsubscribed"


def test_one_batch_that_unsubscribes_twice_raises_channel_unsubscribed_once(provider):
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 0, {"type": "bounce"}),
            ("spamreport", "a@example.com", 1),
        ),
        now=T0 + timedelta(minutes=1),
    )
    assert kinds_on_timeline("a@example.com") == [
        (FAILED_ROW, "Hard bounce"),
        (UNSUBSCRIBED_ROW, "Hard bounce"),
    ]
    assert profile("a@example.com").inactive_reason == "hard_bounce"


# --- the Provider property -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "named"),
    [
        (EmailProvider.Kind.SMTP, "Generic email"),
        (EmailProvider.Kind.GMAIL, "Gmail / Google Workspace"),
        (EmailProvider.Kind.SENDGRID, "SendGrid"),
        (EmailProvider.Kind.NETCORE, "Netcore Cloud"),
    ],
)
def test_notification_delivered_names_the_provider_type_and_keeps_the_nickname(
    make_provider, kind, named
):
    """Seed 003: "`Generic email` indicates that the campaign was sent using a generic email
    provider configuration"."""
    configured = make_provider(kind, nickname="Our relay")
    services.apply_events(configured, sg(("delivered", "a@example.com", 0)), now=T0)
    delivered = TimelineEvent.objects.get()
    assert delivered.properties["Provider"] == named
    assert delivered.properties["Provider nickname"] == "Our relay"
    assert delivered.provider_name == "Our relay"


# --- one time rule: events count at their own time, never later than received -----------------


def test_an_old_soft_bounce_is_recorded_but_does_not_count_toward_the_policy(provider, opted_in):
    now = T0 + timedelta(days=60)
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 0, BLOCKED),  # 60 days before it was received
            ("bounce", "a@example.com", 1, BLOCKED),
            ("bounce", "a@example.com", 2, BLOCKED),
        ),
        now=now,
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count, p.soft_bounce_since) == ("active", 0, None)
    assert p.timeline.filter(kind=FAILED_ROW).count() == 3
    assert DailyStat.objects.get().date == T0.date()  # counted on the day it happened


def test_a_late_old_soft_bounce_does_not_add_to_a_recent_count(provider, opted_in):
    now = T0 + timedelta(days=30)
    recent = [("bounce", "a@example.com", 29 * DAY + i, BLOCKED) for i in range(2)]
    services.apply_events(provider, sg(*recent), now=now)
    services.apply_events(provider, sg(("bounce", "a@example.com", 0, BLOCKED)), now=now)
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count) == ("active", 2)


def test_an_event_dated_in_the_future_counts_when_it_was_received(provider, opted_in):
    received = T0 + timedelta(hours=1)
    future = 400 * DAY
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 0, BLOCKED),
            ("bounce", "a@example.com", future, BLOCKED),
            ("delivered", "b@example.com", future),
        ),
        now=received,
    )
    p = profile("a@example.com")
    assert (p.soft_bounce_count, p.soft_bounce_since) == (2, T0)
    assert set(TimelineEvent.objects.values_list("occurred_at", flat=True)) == {T0, received}
    assert list(DailyStat.objects.values_list("date", "delivered", "soft_bounce")) == [
        (received.date(), 1, 2)
    ]
    # The window ends when the events were received: a third soft bounce a day later is the
    # third within 14 days.
    services.apply_events(
        provider, sg(("bounce", "a@example.com", DAY, BLOCKED)), now=T0 + timedelta(days=1)
    )
    assert profile("a@example.com").inactive_reason == "soft_bounce"


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
    assert services.named_test_email("a|b@example.com|12|3") == 12
    assert services.named_test_email("a@example.com|12|") == 12
    assert services.named_test_email("a@example.com|send-12|") is None
    assert services.named_test_email("a@example.com|１２|") is None  # not ASCII digits
    assert services.named_test_email("12") is None
    assert services.named_test_email("") is None
