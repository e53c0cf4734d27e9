"""Apply normalised callback events to profiles, timelines and delivery stats — in bulk.

`apply_events(provider, events)` is the only writer of callback events: the inbox's workers
call it for each accepted batch (`callbacks.inbox`). One batch is one transaction and costs a
constant number of queries, whatever its size:

1. claim the events' dedupe keys in `ReceivedEvent` (`callbacks.dedupe`): only the keys we
   inserted are new, so a replayed batch changes nothing;
2. hand the new events, but those of test emails, to the profile rules in profiles' words
   (`PROFILE_RESULT` maps each event kind onto a `profiles.suppression.DeliveryResult`):
   `profiles.suppression.apply_deliveries` reads the profiles they name (creating the missing
   ones Inactive), locks and writes just the profiles that change, and adds the timeline
   events, a fixed number of statements in all;
3. add the counters to `DailyStat` with one INSERT … ON CONFLICT (provider, date) DO UPDATE
   SET x = x + EXCLUDED.x (`callbacks.stats`);
4. record the events whose meta names one of the provider's test emails in `TestEmailEvent`,
   with one INSERT … SELECT joined to the test emails, so the test email's page shows them
   (`callbacks.test_email_events`).

Every event counts at its own time (`callbacks.stats.counted_at`), on the Stats page, on the
provider page and in the soft-bounce window alike. Rows travel as one array parameter per
column, never as one query per event (`common.bulk_sql`). Locks are taken in one order (event
keys, then emails, then dates), so concurrent batches for the same profiles queue instead of
deadlocking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from profiles.suppression import (
    Delivery,
    DeliveryResult,
    SoftBounceRule,
    Source,
    apply_deliveries,
    inactivate_for_rule,
)
from providers.models import EmailProvider

from .dedupe import claim_new
from .formats.base import CallbackEvent
from .models import EventKind, SoftBouncePolicy
from .stats import add_to_stats, counted_at
from .test_email_events import names_test_email, record_test_email_events

# What each event kind is to a profile (ignored events never reach the profiles).
PROFILE_RESULT = {
    EventKind.DELIVERED: DeliveryResult.DELIVERED,
    EventKind.SOFT_BOUNCE: DeliveryResult.SOFT_BOUNCE,
    EventKind.HARD_BOUNCE: DeliveryResult.HARD_BOUNCE,
    EventKind.DROPPED: DeliveryResult.DROPPED,
    EventKind.INVALID: DeliveryResult.INVALID,
    EventKind.SPAM: DeliveryResult.SPAM,
    EventKind.UNSUBSCRIBED: DeliveryResult.UNSUBSCRIBED,
}

# The timeline's `Provider` property names the provider's type as seed 003 does ("Generic
# email" for a Generic SMTP configuration); the others are named after their ESP.
PROVIDER_PROPERTY = {EmailProvider.Kind.SMTP: "Generic email"}


@dataclass
class ApplyResult:
    """What one batch did: `counts` holds the new events per kind (ignored included)."""

    duplicates: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def ignored(self) -> int:
        return self.counts[EventKind.IGNORED.value]


def apply_events(
    provider: EmailProvider, events: Sequence[CallbackEvent], *, now: datetime | None = None
) -> ApplyResult:
    """Apply a batch of parsed events for `provider`, all or nothing."""
    now = now or timezone.now()
    result = ApplyResult()
    if not events:
        return result
    with transaction.atomic():
        fresh = claim_new(provider, events, now)
        result.duplicates = len(events) - len(fresh)
        result.counts.update({str(kind): n for kind, n in Counter(e.kind for e in fresh).items()})
        actionable = [event for event in fresh if event.kind != EventKind.IGNORED]
        # Test emails never change a profile (seed 003; the test-email form says so): their
        # events are counted and shown on the test email's page, not applied to profiles.
        campaign = [event for event in actionable if not names_test_email(event.meta, provider)]
        if campaign:
            _apply_to_profiles(provider, campaign, now)
        add_to_stats(provider, fresh, result.duplicates, now)
        record_test_email_events(provider, actionable, now)
    return result


def count_replay(provider: EmailProvider, events: int, *, now: datetime) -> ApplyResult:
    """A copy of a body already applied (`replays`): each of its `events` is a duplicate."""
    add_to_stats(provider, [], events, now)
    return ApplyResult(duplicates=events)


def _apply_to_profiles(provider: EmailProvider, events: list[CallbackEvent], now: datetime) -> None:
    policy = SoftBouncePolicy.current()
    apply_deliveries(
        [as_delivery(event, now) for event in events],
        Source(nickname=provider.nickname, type_label=provider_property(provider)),
        SoftBounceRule(threshold=policy.threshold, window_days=policy.window_days),
        now,
    )


def as_delivery(event: CallbackEvent, received: datetime) -> Delivery:
    """The event in profiles' words, at the time it counts."""
    return Delivery(
        email=event.email,
        result=PROFILE_RESULT[event.kind],
        at=counted_at(event, received),
        description=event.description,
        suppress=event.suppress,
        esp_event=event.esp_event,
        meta=event.meta,
        event_id=event.event_id,
    )


def provider_property(provider: EmailProvider) -> str:
    """The `Provider` property of a timeline event: the provider's type, as seed 003 names it."""
    return PROVIDER_PROPERTY.get(provider.kind, provider.get_kind_display())


def save_policy(policy: SoftBouncePolicy, now: datetime | None = None) -> int:
    """Save the policy and make the profiles it now covers Inactive; return how many."""
    now = now or timezone.now()
    with transaction.atomic():
        policy.pk = 1
        policy.save()
        rule = SoftBounceRule(threshold=policy.threshold, window_days=policy.window_days)
        return inactivate_for_rule(rule, f"Soft bounce policy: {policy}", now)
