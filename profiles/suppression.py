"""Profile rules: how what happened to an address's mail changes its profile — in bulk.

`apply_deliveries(deliveries, source, rule, now)` is the only writer of delivery results to
profiles; `callbacks.services.apply_events` calls it with each batch's events, put in profiles'
words (`Delivery`). It runs inside the caller's transaction and costs a constant number of
queries, whatever the batch's size (the SQL is in `profiles.state_sql`):

1. read the profiles the deliveries name, without locking them; for addresses without one,
   first INSERT … ON CONFLICT DO NOTHING a profile. Suppression lives on the profile: an
   address no profile had yet is created Inactive, and an import that meets it later keeps
   its status;
2. fold the deliveries into each profile's state in Python to learn which profiles change (most
   deliveries change none), lock just those (SELECT … FOR NO KEY UPDATE, in email order like
   every other bulk writer; no key changes, so the weaker lock is enough), fold again from
   their locked state and write them with one UPDATE … FROM;
3. insert the timeline events with one INSERT … SELECT, each property in a column of its own
   (no JSON to build, no database foreign key to check per row: see `TimelineEvent`).

The rules of the fold: a failure is a Notification Failed; a delivery resets the soft-bounce
count; a soft bounce within the policy's window counts toward it, and reaching the threshold
makes the profile Inactive; a suppressing result makes it Inactive with the reason
`INACTIVE_REASON` names. The first reason is the one kept, and Channel Unsubscribed is raised
once, when the profile becomes Inactive. A profile is only written from its locked state, so
no update is lost; one the batch leaves unchanged is not locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from django.db import models
from django.utils import timezone

from . import state_sql
from .models import Profile, TimelineEvent, normalize_email
from .state_sql import ProfileState


class DeliveryResult(models.TextChoices):
    """What happened to a message, in profiles' words; the label names it on the timeline."""

    DELIVERED = "delivered", "Delivered"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    DROPPED = "dropped", "Dropped"
    INVALID = "invalid", "Invalid"
    SPAM = "spam", "Spam"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


# A failure's `Error` property on its Notification Failed.
FAILED_ERROR = {
    DeliveryResult.SOFT_BOUNCE: "Soft bounce",
    DeliveryResult.HARD_BOUNCE: "Hard bounce",
    DeliveryResult.DROPPED: "Dropped",
    DeliveryResult.INVALID: "Invalid",
}

# The reason a suppressing result gives an Inactive profile.
INACTIVE_REASON = {
    DeliveryResult.SOFT_BOUNCE: Profile.Reason.SOFT_BOUNCE,
    DeliveryResult.HARD_BOUNCE: Profile.Reason.HARD_BOUNCE,
    DeliveryResult.DROPPED: Profile.Reason.DROPPED,
    DeliveryResult.INVALID: Profile.Reason.INVALID,
    DeliveryResult.SPAM: Profile.Reason.SPAM,
    DeliveryResult.UNSUBSCRIBED: Profile.Reason.UNSUBSCRIBED,
}

SOFT_BOUNCE_TYPE = "Repeated soft bounces"

DELIVERED = TimelineEvent.Kind.NOTIFICATION_DELIVERED.value
FAILED = TimelineEvent.Kind.NOTIFICATION_FAILED.value
UNSUBSCRIBED = TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED.value


class Delivery(msgspec.Struct, frozen=True):
    """One result for one address: what happened, when it counts, and the ESP's words for it.

    A msgspec Struct: a batch builds thousands, four times faster than a dataclass.

    `suppress`: the sender did not cause it, so the address should get no more mail.
    `esp_event`, `meta` and `event_id` are kept on the timeline as the ESP sent them.
    """

    email: str
    result: DeliveryResult
    at: datetime
    description: str = ""
    suppress: bool = False
    esp_event: str = ""
    meta: str = ""
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """Who reported the deliveries: the provider's nickname and its type, as the timeline
    names them."""

    nickname: str
    type_label: str


@dataclass(frozen=True, slots=True)
class SoftBounceRule:
    """Inactive after `threshold` soft bounces within `window_days` (no threshold: never)."""

    threshold: int | None
    window_days: int


@dataclass(slots=True)
class StateChanges:
    """What `apply_deliveries` did to profiles."""

    inactivated: int = 0
    created: int = 0


def apply_deliveries(
    deliveries: Sequence[Delivery], source: Source, rule: SoftBounceRule, now: datetime
) -> StateChanges:
    """Fold `deliveries` into their profiles and timelines; runs in the caller's transaction."""
    changes = StateChanges()
    by_email: dict[str, list[Delivery]] = {}
    for delivery in sorted(deliveries, key=_delivery_time):
        by_email.setdefault(normalize_email(delivery.email), []).append(delivery)
    emails = sorted(by_email)
    snapshot = state_sql.read_profiles(emails)
    missing = [email for email in emails if email not in snapshot]
    if missing:
        # Usually few: every address the ESP names was sent to, so it has a profile.
        created, states = state_sql.upsert_profiles(missing, now)
        changes.created = created
        snapshot.update(states)
    # First fold on the snapshot: a profile these deliveries leave unchanged is done, and its
    # timeline rows are final. Only the others are locked and folded again, from their
    # current state. One deleted meanwhile keeps the snapshot: its update then changes no row
    # and its timeline rows belong to no profile, so the deletion wins.
    timeline: list[tuple] = []
    changing: dict[str, int] = {}
    discarded = StateChanges()  # an unchanged profile counts nothing
    for email, its_deliveries in by_email.items():
        state = snapshot[email]
        rows = _delivered_rows(state, its_deliveries)
        if rows is None:
            trial = state.trial_copy()
            rows = _fold_all(source, rule, trial, its_deliveries, now, discarded)
            if trial.changed:
                changing[email] = trial.id
                continue
        timeline.extend(rows)
    locked = {email: snapshot[email] for email in changing}
    locked.update(state_sql.lock_profiles(list(changing.values())))
    for email, state in locked.items():
        timeline.extend(_fold_all(source, rule, state, by_email[email], now, changes))
    state_sql.update_profiles([state for state in locked.values() if state.changed], now)
    state_sql.insert_timeline(source.nickname, source.type_label, timeline, now)
    return changes


def _delivery_time(delivery: Delivery) -> datetime:
    return delivery.at


def _delivered_rows(state: ProfileState, deliveries: list[Delivery]) -> list[tuple] | None:
    """The timeline rows of deliveries that cannot change the profile, or None.

    Most of a batch is messages delivered to addresses with no soft bounce counted: each is a
    Notification Delivered and nothing more, so no fold is needed to know it.
    """
    if state.soft_bounce_count or state.soft_bounce_since:
        return None
    if any(delivery.result != DeliveryResult.DELIVERED for delivery in deliveries):
        return None
    return [_timeline_row(state, DELIVERED, delivery) for delivery in deliveries]


def _timeline_row(
    state: ProfileState,
    kind: str,
    delivery: Delivery,
    error: str | None = None,
    type_: str | None = None,
    reason: str | None = None,
) -> tuple:
    """A `state_sql.TIMELINE_ROW` for `delivery`: the ESP's words as it sent them, then the
    event's own properties."""
    meta, event_id = delivery.meta or None, delivery.event_id or None
    return (state.id, kind, delivery.at, delivery.esp_event, meta, event_id, error, type_, reason)


def _fold_all(
    source: Source,
    rule: SoftBounceRule,
    state: ProfileState,
    deliveries: list[Delivery],
    now: datetime,
    changes: StateChanges,
) -> list[tuple]:
    """Fold one profile's deliveries into its state, in time order; return the timeline rows."""
    rows: list[tuple] = []
    for delivery in deliveries:
        rows.extend(_fold(source, rule, state, delivery, now, changes))
    return rows


def _fold(
    source: Source,
    rule: SoftBounceRule,
    state: ProfileState,
    delivery: Delivery,
    now: datetime,
    changes: StateChanges,
) -> list[tuple]:
    """Apply one delivery to a profile's state; return its timeline rows (`TIMELINE_ROW`).

    Channel Unsubscribed is raised once, when the profile becomes Inactive; a later failure
    for an Inactive address is still a Notification Failed.
    """
    rows = []
    result, at = delivery.result, delivery.at
    if result == DeliveryResult.DELIVERED:
        rows.append(_timeline_row(state, DELIVERED, delivery))
        if state.soft_bounce_count or state.soft_bounce_since:
            state.soft_bounce_count, state.soft_bounce_since = 0, None
            state.changed = True
    if result in FAILED_ERROR:
        error, reason = FAILED_ERROR[result], delivery.description or None
        rows.append(_timeline_row(state, FAILED, delivery, error=error, reason=reason))
    counted = result == DeliveryResult.SOFT_BOUNCE and _count_soft_bounce(state, at, now, rule)
    if counted and rule.threshold and state.soft_bounce_count >= rule.threshold:
        detail = delivery.description or (
            f"{state.soft_bounce_count} soft bounces within {rule.window_days} days"
        )
        if _inactivate(state, Profile.Reason.SOFT_BOUNCE, at, source, detail):
            changes.inactivated += 1
            rows.append(
                _timeline_row(state, UNSUBSCRIBED, delivery, type_=SOFT_BOUNCE_TYPE, reason=detail)
            )
    if delivery.suppress and _inactivate(
        state, INACTIVE_REASON[result], at, source, delivery.description
    ):
        changes.inactivated += 1
        reason = delivery.description or None
        rows.append(
            _timeline_row(state, UNSUBSCRIBED, delivery, type_=str(result.label), reason=reason)
        )
    return rows


def _count_soft_bounce(
    state: ProfileState, at: datetime, now: datetime, rule: SoftBounceRule
) -> bool:
    """Count a soft bounce at `at` toward the rule; False when it is too old to count.

    Only soft bounces within the window that ends now count: one reported long after it
    happened is on the timeline and in the stats, not in the count.
    """
    window = timedelta(days=rule.window_days)
    if at < now - window:
        return False
    if state.soft_bounce_since is None or at - state.soft_bounce_since > window:
        state.soft_bounce_count, state.soft_bounce_since = 1, at
    else:
        state.soft_bounce_count += 1
        state.soft_bounce_since = min(state.soft_bounce_since, at)
    state.changed = True
    return True


def _inactivate(
    state: ProfileState, reason: str, at: datetime, source: Source, detail: str
) -> bool:
    """Make the profile Inactive unless it already is; the first reason is the one kept."""
    if state.status == Profile.Status.INACTIVE:
        return False
    state.status = Profile.Status.INACTIVE
    state.inactive_reason = reason
    state.inactive_since = at
    state.inactive_provider = source.nickname
    state.inactive_detail = detail
    state.changed = True
    return True


# --- the soft-bounce policy --------------------------------------------------------------------


def profiles_meeting_policy(threshold: int | None, window_days: int, now: datetime | None = None):
    """Active profiles that a rule of `threshold` soft bounces in `window_days` would affect."""
    if not threshold:
        return Profile.objects.none()
    now = now or timezone.now()
    return Profile.objects.filter(
        status=Profile.Status.ACTIVE,
        soft_bounce_count__gte=threshold,
        soft_bounce_since__gte=now - timedelta(days=window_days),
    )


def inactivate_for_rule(rule: SoftBounceRule, detail: str, now: datetime) -> int:
    """Make the profiles `rule` now covers Inactive, with `detail`; return how many.

    Runs in the caller's transaction (the one that saves the rule).
    """
    affected = list(
        profiles_meeting_policy(rule.threshold, rule.window_days, now)
        .select_for_update()
        .order_by("email")
        .values_list("id", flat=True)
    )
    if not affected:
        return 0
    Profile.objects.filter(id__in=affected).update(
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.SOFT_BOUNCE,
        inactive_since=now,
        inactive_provider="",
        inactive_detail=detail,
        updated_at=now,
    )
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            profile_id=pk,
            kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED,
            occurred_at=now,
            properties={"Type": SOFT_BOUNCE_TYPE, "reason": detail},
        )
        for pk in affected
    )
    return len(affected)
