"""The profile rules, as callback events reach them: inactivation and its reasons, soft-bounce
counting and the policy window, Channel Unsubscribed once, the timeline's properties."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callbacks import services
from callbacks.models import DailyStat, SoftBouncePolicy
from profiles import suppression
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider
from tests.callbacks.test_services import BLOCKED, DAY, T0, profile, sg
from tests.factories import EmailProviderFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_provider(db):
    def make(kind=EmailProvider.Kind.SMTP, **kwargs):
        return EmailProviderFactory(kind=kind, **kwargs)

    return make


@pytest.fixture
def provider(make_provider):
    return make_provider(EmailProvider.Kind.SENDGRID, nickname="SG main")


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
    services.apply_events(
        provider,
        sg(("bounce", "a@example.com", 10 * DAY, BLOCKED)),
        now=T0 + timedelta(days=10, minutes=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.inactive_reason, p.soft_bounce_count) == ("inactive", "soft_bounce", 3)
    assert p.inactive_since == T0 + timedelta(days=10)
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
    services.apply_events(
        provider,
        sg(*[("bounce", "a@example.com", i * 60, BLOCKED) for i in range(10)]),
        now=T0 + timedelta(hours=1),
    )
    p = profile("a@example.com")
    assert (p.status, p.soft_bounce_count, p.inactive_since) == ("active", 10, None)
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


def test_policy_preview_and_save(provider):
    now = datetime.now(UTC)
    ProfileFactory(email="two@example.com", soft_bounce_count=2, soft_bounce_since=now)
    ProfileFactory(email="five@example.com", soft_bounce_count=5, soft_bounce_since=now)
    ProfileFactory(
        email="old@example.com", soft_bounce_count=5, soft_bounce_since=now - timedelta(days=40)
    )
    assert suppression.profiles_meeting_policy(2, 14).count() == 2
    assert suppression.profiles_meeting_policy(3, 60).count() == 2
    assert suppression.profiles_meeting_policy(None, 14).count() == 0
    affected = services.save_policy(SoftBouncePolicy(threshold=3, window_days=14))
    assert affected == 1
    assert profile("five@example.com").inactive_reason == "soft_bounce"
    assert profile("two@example.com").status == "active"
    assert SoftBouncePolicy.current().threshold == 3
    assert SoftBouncePolicy.objects.count() == 1


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
    services.apply_events(
        provider,
        sg(
            ("bounce", "a@example.com", 60, {"type": "bounce"}),
            ("spamreport", "a@example.com", 120),
            ("unsubscribe", "a@example.com", 180),
            ("dropped", "a@example.com", 240, {"reason": "Bounced Address"}),
        ),
        now=T0 + timedelta(minutes=5),
    )
    assert profile("a@example.com").inactive_since == T0  # not inactivated again
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


# --- the rules in profiles' own words --------------------------------------------------------

SECOND = timedelta(seconds=1)
SOURCE = suppression.Source(nickname="Relay", type_label="Generic email")
NEVER = suppression.SoftBounceRule(threshold=None, window_days=14)


def test_profiles_apply_deliveries_in_their_own_words():
    """No callbacks type in sight: a suppressing result makes the profile Inactive with the
    reason the map names, once, and names the source on the timeline."""
    hard = suppression.Delivery(
        email="A@Example.com",
        result=suppression.DeliveryResult.HARD_BOUNCE,
        at=T0,
        description="550 gone",
        suppress=True,
        esp_event="bounce",
    )
    changes = suppression.apply_deliveries(
        [hard, hard], SOURCE, NEVER, now=T0 + timedelta(minutes=1)
    )
    p = profile("a@example.com")
    assert (changes.created, changes.inactivated) == (1, 1)
    assert (p.status, p.inactive_reason) == ("inactive", "hard_bounce")
    assert p.inactive_provider == "Relay"
    assert (p.inactive_since, p.inactive_detail) == (T0, "550 gone")
    assert kinds_on_timeline("a@example.com") == [
        (FAILED_ROW, "Hard bounce"),
        (UNSUBSCRIBED_ROW, "Hard bounce"),
        (FAILED_ROW, "Hard bounce"),
    ]
    assert TimelineEvent.objects.first().properties["Provider"] == "Generic email"


def test_the_soft_bounce_rule_is_passed_in():
    soft = [
        suppression.Delivery(
            email="a@example.com", result=suppression.DeliveryResult.SOFT_BOUNCE, at=T0 + i * SECOND
        )
        for i in range(2)
    ]
    two = suppression.SoftBounceRule(threshold=2, window_days=1)
    changes = suppression.apply_deliveries(soft, SOURCE, two, now=T0 + timedelta(minutes=1))
    p = profile("a@example.com")
    assert (changes.inactivated, p.inactive_reason, p.soft_bounce_count) == (1, "soft_bounce", 2)
    assert p.inactive_detail == "2 soft bounces within 1 days"


def test_every_suppressing_result_names_a_profile_reason():
    """The explicit result → reason map: every failure and complaint, never a delivery."""
    results = set(suppression.DeliveryResult) - {suppression.DeliveryResult.DELIVERED}
    assert set(suppression.INACTIVE_REASON) == results
    assert set(suppression.INACTIVE_REASON.values()) == set(Profile.Reason) - {
        Profile.Reason.MANUAL
    }
