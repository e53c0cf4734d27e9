"""Apply normalised callback events to profiles, timelines and delivery stats — in bulk.

`apply_events(provider, events)` is the only writer of callback events: the inbox's workers
call it for each accepted batch (`callbacks.inbox`). One batch is one transaction and costs a
constant number of queries, whatever its size:

1. claim the events' dedupe keys in `ReceivedEvent` (INSERT … ON CONFLICT DO NOTHING
   RETURNING): only the keys we inserted are new, so a replayed batch changes nothing. Stored
   keys are 24 bytes that start with the event's time, so a batch's keys land together at the
   recent end of the table's only index instead of on a thousand random pages;
2. read the profiles the new events name, without locking them; for addresses without one,
   first INSERT … ON CONFLICT DO NOTHING a profile. Suppression lives on the profile: an
   address no profile had yet is created Inactive, and an import that meets it later keeps
   its status;
3. fold the events into each profile's state in Python to learn which profiles change (most
   deliveries change none), lock just those (SELECT … FOR NO KEY UPDATE, in email order
   like every other bulk writer; no key changes, so the weaker lock is enough), fold again
   from their locked state and write them with one UPDATE … FROM;
4. insert the timeline events with one INSERT … SELECT that builds each event's JSON
   properties from plain columns (no database foreign key to check per row: see
   `TimelineEvent.profile`);
5. add the counters to `DailyStat` with one INSERT … ON CONFLICT (provider, date) DO UPDATE
   SET x = x + EXCLUDED.x;
6. record the events whose meta names one of the provider's test emails in `TestEmailEvent`,
   with one INSERT … SELECT joined to the test emails, so the test email's page shows them.

Every event counts at its own time (the ESP's timestamp), on the Stats page, on the provider
page and in the soft-bounce window alike; an event without a time, or dated after it was
received, counts at the time it was received (`counted_at`).

Rows travel as one array parameter per column (`unnest` on PostgreSQL) or one JSON parameter
(`json_each` on SQLite; binary keys, which JSON cannot carry, go in one `executemany`), never
as one query per event. Locks are taken in one order (event
keys, then emails, then dates), so concurrent batches for the same profiles queue instead of
deadlocking. A profile is only written from its locked state, so no update is lost; one this
batch leaves unchanged is not locked, which orders the batch before any concurrent writer of
that profile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile, TimelineEvent, normalize_email
from providers.models import EmailProvider, TestEmail

from .bulk_sql import (
    adapter,
    as_sqlite_text,
    bound_cursor,
    model_defaults,
    rows_source,
    table_name,
)
from .formats.base import CallbackEvent
from .models import DailyStat, EventKind, ReceivedEvent, SoftBouncePolicy, TestEmailEvent

FAILED_ERROR = {
    EventKind.SOFT_BOUNCE: "Soft bounce",
    EventKind.HARD_BOUNCE: "Hard bounce",
    EventKind.DROPPED: "Dropped",
    EventKind.INVALID: "Invalid",
}

SOFT_BOUNCE_TYPE = "Repeated soft bounces"

# The timeline's `Provider` property names the provider's type as seed 003 does ("Generic
# email" for a Generic SMTP configuration); the others are named after their ESP.
PROVIDER_PROPERTY = {EmailProvider.Kind.SMTP: "Generic email"}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
UNKNOWN_TIME = 2**63 - 1  # an event without a time: its key sorts last

DELIVERED = TimelineEvent.Kind.NOTIFICATION_DELIVERED.value
FAILED = TimelineEvent.Kind.NOTIFICATION_FAILED.value
UNSUBSCRIBED = TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED.value

# A timeline row as `_fold` returns it and `_insert_timeline` writes it: the columns, then the
# event's properties (key, column), None where the event has no such property. The database
# builds each row's JSON from these columns, leaving out the empty ones.
TIMELINE_ROW = [("profile_id", "bigint"), ("kind", "text"), ("occurred_at", "timestamptz")]
TIMELINE_PROPERTIES = [
    ("esp_event", "esp_event"),
    ("meta", "meta"),
    ("event_id", "event_id"),
    ("Error", "error"),
    ("Type", "type"),
    ("reason", "reason"),
]


@dataclass
class ApplyResult:
    """What one batch did: `counts` holds the new events per kind (ignored included)."""

    received: int = 0
    duplicates: int = 0
    counts: Counter = field(default_factory=Counter)
    inactivated: int = 0
    profiles_created: int = 0

    @property
    def new(self) -> int:
        return sum(self.counts.values())

    @property
    def ignored(self) -> int:
        return self.counts[EventKind.IGNORED.value]


def apply_events(
    provider: EmailProvider, events: Sequence[CallbackEvent], *, now: datetime | None = None
) -> ApplyResult:
    """Apply a batch of parsed events for `provider`, all or nothing."""
    now = now or timezone.now()
    result = ApplyResult(received=len(events))
    if not events:
        return result
    with transaction.atomic():
        fresh = _claim_new(provider, events, now)
        result.duplicates = len(events) - len(fresh)
        result.counts.update(event.kind.value for event in fresh)
        actionable = [event for event in fresh if event.kind != EventKind.IGNORED]
        # Test emails never change a profile (seed 003; the test-email form says so): their
        # events are counted and shown on the test email's page, not applied to profiles.
        campaign = [event for event in actionable if not names_test_email(event.meta, provider)]
        if campaign:
            _apply_to_profiles(provider, campaign, now, result)
        _add_to_stats(provider, fresh, result.duplicates, now)
        _record_test_email_events(provider, actionable, now)
    return result


def counted_at(event: CallbackEvent, received: datetime) -> datetime:
    """When an event counts: its own time, or when it was received if it has none or is later.

    An ESP cannot report what has not happened yet, so a future time is a wrong clock; counting
    it then would put it on a day that has not come and outside every window.
    """
    if event.occurred_at is None or event.occurred_at > received:
        return received
    return event.occurred_at


# --- 1. de-duplication ------------------------------------------------------------------------


def _claim_new(
    provider: EmailProvider, events: Sequence[CallbackEvent], now: datetime
) -> list[CallbackEvent]:
    """The events never seen before, in body order; claims their keys for this transaction."""
    first_by_key: dict[bytes, int] = {}
    for index, event in enumerate(events):
        if event.dedupe_key:
            first_by_key.setdefault(stored_key(event), index)
    claimed = _claim_keys(provider, sorted(first_by_key), now) if first_by_key else set()
    keep = {first_by_key[key] for key in claimed}
    return [event for index, event in enumerate(events) if (not event.dedupe_key) or index in keep]


def _claim_keys(provider: EmailProvider, keys: list[bytes], now: datetime) -> set[bytes]:
    """Store the keys not stored yet, and return them."""
    if connection.vendor != "postgresql":
        # SQLite lets one transaction write at a time, so reading the known keys and then
        # inserting the others cannot race (and its JSON rows cannot carry bytes).
        known = ReceivedEvent.objects.filter(provider=provider, event_key__in=keys)
        new = set(keys) - {bytes(key) for key in known.values_list("event_key", flat=True)}
        sql = (
            f"INSERT INTO {table_name(ReceivedEvent)} (provider_id, event_key, received_at) "  # noqa: S608
            "VALUES (%s, %s, %s)"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(provider.pk, key, as_sqlite_text(now)) for key in new])
        return new
    sql = (
        f"INSERT INTO {table_name(ReceivedEvent)} (provider_id, event_key, received_at) "  # noqa: S608
        "SELECT %s, k, %s FROM unnest(%b::bytea[]) AS k WHERE true ORDER BY k "
        "ON CONFLICT (provider_id, event_key) DO NOTHING RETURNING event_key"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [provider.pk, now, keys])
        return {row[0] for row in cursor.fetchall()}


def stored_key(event: CallbackEvent) -> bytes:
    """The event's key in `ReceivedEvent`: its time, then the first half of its dedupe key.

    The time is whole seconds since the epoch as eight big-endian bytes, so keys sort by time:
    a retry carries the same time, so it still meets its first copy; and since ESPs post
    events soon after they happen, new keys go in near the end of the index. An event
    without a time sorts after all others. Sixteen bytes of a SHA-256 digest are plenty to
    tell events apart, at half the index size of the whole hex digest.
    """
    return key_prefix(event.occurred_at) + bytes.fromhex(event.dedupe_key[:32])


def key_prefix(at: datetime | None) -> bytes:
    """The first eight bytes of the stored key of an event at `at` (None: no time)."""
    seconds = UNKNOWN_TIME if at is None else (at - EPOCH) // SECOND
    return seconds.to_bytes(8, "big", signed=True)


# --- 2–4. profiles and their timelines -------------------------------------------------------


@dataclass(slots=True)
class _ProfileState:
    id: int
    status: str
    inactive_reason: str
    inactive_since: datetime | None
    inactive_provider: str
    inactive_detail: str
    soft_bounce_count: int
    soft_bounce_since: datetime | None
    changed: bool = False

    def trial_copy(self) -> _ProfileState:
        """A copy to fold into without touching this state (`copy.copy` is far slower)."""
        return _ProfileState(
            self.id,
            self.status,
            self.inactive_reason,
            self.inactive_since,
            self.inactive_provider,
            self.inactive_detail,
            self.soft_bounce_count,
            self.soft_bounce_since,
        )


def _apply_to_profiles(
    provider: EmailProvider, events: list[CallbackEvent], now: datetime, result: ApplyResult
) -> None:
    emails = sorted({normalize_email(event.email) for event in events})
    snapshot = _read_profiles(emails)
    missing = [email for email in emails if email not in snapshot]
    if missing:
        # Usually none: every address the ESP names was sent to, so it has a profile.
        result.profiles_created = _upsert_profiles(missing, now)
        snapshot.update(_read_profiles(missing))
    policy = SoftBouncePolicy.current()
    by_email: dict[str, list[CallbackEvent]] = {}
    for event in sorted(events, key=lambda event: counted_at(event, now)):
        by_email.setdefault(normalize_email(event.email), []).append(event)
    # First fold on the snapshot: a profile these events leave unchanged is done, and its
    # timeline rows are final. Only the others are locked and folded again, from their
    # current state. One deleted meanwhile keeps the snapshot: its update then changes no row
    # and its timeline rows belong to no profile, so the deletion wins.
    timeline: list[tuple] = []
    changing: dict[str, int] = {}
    discarded = ApplyResult()  # an unchanged profile counts nothing
    for email, its_events in by_email.items():
        trial = snapshot[email].trial_copy()
        rows = _fold_events(provider, policy, trial, its_events, now, discarded)
        if trial.changed:
            changing[email] = trial.id
        else:
            timeline.extend(rows)
    locked = {email: snapshot[email] for email in changing}
    locked.update(_lock_profiles(list(changing.values())))
    for email, state in locked.items():
        timeline.extend(_fold_events(provider, policy, state, by_email[email], now, result))
    _update_profiles([state for state in locked.values() if state.changed], now)
    _insert_timeline(provider, timeline, now)


def _fold_events(
    provider: EmailProvider,
    policy: SoftBouncePolicy,
    state: _ProfileState,
    events: list[CallbackEvent],
    now: datetime,
    result: ApplyResult,
) -> list[tuple]:
    """Fold one profile's events into its state, in time order; return the timeline rows."""
    rows: list[tuple] = []
    for event in events:
        rows.extend(_fold(provider, policy, state, event, now, result))
    return rows


def _fold(
    provider: EmailProvider,
    policy: SoftBouncePolicy,
    state: _ProfileState,
    event: CallbackEvent,
    now: datetime,
    result: ApplyResult,
) -> list[tuple]:
    """Apply one event to a locked profile's state; return its timeline rows (`TIMELINE_ROW`).

    Channel Unsubscribed is raised once, when the profile becomes Inactive; a later failure
    for an Inactive address is still a Notification Failed.
    """
    rows = []
    kind = event.kind
    at = counted_at(event, now)
    common = (event.esp_event, event.meta or None, event.event_id or None)
    if kind == EventKind.DELIVERED:
        rows.append((state.id, DELIVERED, at, *common, None, None, None))
        if state.soft_bounce_count or state.soft_bounce_since:
            state.soft_bounce_count, state.soft_bounce_since = 0, None
            state.changed = True
    if kind in FAILED_ERROR:
        error, reason = FAILED_ERROR[kind], event.description or None
        rows.append((state.id, FAILED, at, *common, error, None, reason))
    counted = kind == EventKind.SOFT_BOUNCE and _count_soft_bounce(state, at, now, policy)
    if counted and policy.threshold and state.soft_bounce_count >= policy.threshold:
        detail = event.description or (
            f"{state.soft_bounce_count} soft bounces within {policy.window_days} days"
        )
        if _inactivate(state, Profile.Reason.SOFT_BOUNCE, at, provider, detail):
            result.inactivated += 1
            rows.append((state.id, UNSUBSCRIBED, at, *common, None, SOFT_BOUNCE_TYPE, detail))
    if event.suppress and _inactivate(state, kind.value, at, provider, event.description):
        result.inactivated += 1
        reason = event.description or None
        rows.append((state.id, UNSUBSCRIBED, at, *common, None, str(kind.label), reason))
    return rows


def _count_soft_bounce(
    state: _ProfileState, at: datetime, now: datetime, policy: SoftBouncePolicy
) -> bool:
    """Count a soft bounce at `at` toward the policy; False when it is too old to count.

    Only soft bounces within the window that ends now count: one reported long after it
    happened is on the timeline and in the stats, not in the count.
    """
    window = timedelta(days=policy.window_days)
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
    state: _ProfileState, reason: str, at: datetime, provider: EmailProvider, detail: str
) -> bool:
    """Make the profile Inactive unless it already is; the first reason is the one kept."""
    if state.status == Profile.Status.INACTIVE:
        return False
    state.status = Profile.Status.INACTIVE
    state.inactive_reason = reason
    state.inactive_since = at
    state.inactive_provider = provider.nickname
    state.inactive_detail = detail
    state.changed = True
    return True


def _upsert_profiles(emails: list[str], now: datetime) -> int:
    """INSERT … ON CONFLICT (email) DO NOTHING a profile for every address; return how many."""
    fixed_names, fixed_values = model_defaults(Profile, exclude={"email"}, now=now)
    source, params = rows_source([("email", "text")], [(email,) for email in emails])
    columns = ", ".join(["email", *fixed_names])
    placeholders = ", ".join(["v.email", *["%s"] * len(fixed_names)])
    sql = (
        f"INSERT INTO {table_name(Profile)} ({columns}) "  # noqa: S608
        f"SELECT {placeholders} FROM ({source}) AS v WHERE true ORDER BY v.email "
        "ON CONFLICT (email) DO NOTHING"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [*fixed_values, *params])
        return max(cursor.rowcount, 0)


PROFILE_STATE_FIELDS = [
    "email",
    "id",
    "status",
    "inactive_reason",
    "inactive_since",
    "inactive_provider",
    "inactive_detail",
    "soft_bounce_count",
    "soft_bounce_since",
]


def _read_profiles(emails: list[str]) -> dict[str, _ProfileState]:
    """The state of the batch's profiles, unlocked: reading them dirties no page."""
    if connection.vendor != "postgresql":
        return _states(Profile.objects.filter(email__in=emails).values_list(*PROFILE_STATE_FIELDS))
    return _select_states("email = ANY(%b::text[])", emails)


def _lock_profiles(ids: list[int]) -> dict[str, _ProfileState]:
    """Lock and re-read the profiles about to change, in email order so concurrent writers queue."""
    if not ids:
        return {}
    if connection.vendor != "postgresql":
        # SQLite holds the database write lock for the whole transaction: no row locks.
        return _states(Profile.objects.filter(id__in=ids).values_list(*PROFILE_STATE_FIELDS))
    return _select_states("id = ANY(%b::bigint[]) ORDER BY email FOR NO KEY UPDATE", ids)


def _select_states(condition: str, values: list) -> dict[str, _ProfileState]:
    """PostgreSQL: profile states WHERE `condition`, which takes `values` as one array parameter.

    One array instead of an IN list: the same query text for any batch size.
    """
    sql = f"SELECT {', '.join(PROFILE_STATE_FIELDS)} FROM {table_name(Profile)} WHERE {condition}"  # noqa: S608
    with bound_cursor() as cursor:
        cursor.execute(sql, [values])
        return _states(cursor.fetchall())


def _states(rows) -> dict[str, _ProfileState]:
    return {row[0]: _ProfileState(*row[1:]) for row in rows}


def _update_profiles(states: list[_ProfileState], now: datetime) -> None:
    if not states:
        return
    columns = [
        ("id", "bigint"),
        ("status", "text"),
        ("inactive_reason", "text"),
        ("inactive_since", "timestamptz"),
        ("inactive_provider", "text"),
        ("inactive_detail", "text"),
        ("soft_bounce_count", "integer"),
        ("soft_bounce_since", "timestamptz"),
    ]
    adapt = adapter()
    rows = [
        (
            s.id,
            s.status,
            s.inactive_reason,
            adapt(s.inactive_since),
            s.inactive_provider,
            s.inactive_detail,
            s.soft_bounce_count,
            adapt(s.soft_bounce_since),
        )
        for s in sorted(states, key=lambda s: s.id)
    ]
    source, params = rows_source(columns, rows)
    assignments = ", ".join(f"{name} = v.{name}" for name, _type in columns[1:])
    sql = (
        f"UPDATE {table_name(Profile)} AS p SET {assignments}, updated_at = %s "  # noqa: S608
        f"FROM ({source}) AS v WHERE p.id = v.id"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [adapter()(now), *params])


def _insert_timeline(provider: EmailProvider, rows: list[tuple], now: datetime) -> None:
    """Insert `TIMELINE_ROW` rows; every row's properties also name the provider's type and
    nickname."""
    if not rows:
        return
    fixed_names, fixed_values = model_defaults(
        TimelineEvent,
        exclude={"profile", "kind", "occurred_at", "properties", "provider_name"},
        now=now,
    )
    columns = [*TIMELINE_ROW, *[(column, "text") for _key, column in TIMELINE_PROPERTIES]]
    if connection.vendor != "postgresql":
        adapt = adapter()
        rows = [(pid, kind, adapt(at), *properties) for pid, kind, at, *properties in rows]
    source, params = rows_source(columns, rows)
    pairs = ", ".join(
        ["'Provider', CAST(%s AS text)", "'Provider nickname', CAST(%s AS text)"]
        + [f"'{key}', v.{column}" for key, column in TIMELINE_PROPERTIES]
    )
    if connection.vendor == "postgresql":
        properties = f"jsonb_strip_nulls(jsonb_build_object({pairs}))"
    else:  # a merge patch drops the members whose value is null
        properties = f"json_patch('{{}}', json_object({pairs}))"
    names = ", ".join(["profile_id", "kind", "occurred_at", "provider_name", "properties"])
    selects = ", ".join(["v.profile_id", "v.kind", "v.occurred_at", "%s", properties])
    fixed = "".join(f", {name}" for name in fixed_names)
    sql = (
        f"INSERT INTO {table_name(TimelineEvent)} ({names}{fixed}) "  # noqa: S608
        f"SELECT {selects}{', %s' * len(fixed_names)} FROM ({source}) AS v"
    )
    with bound_cursor() as cursor:
        cursor.execute(
            sql,
            [provider.nickname, provider_property(provider), provider.nickname]
            + [*fixed_values, *params],
        )


def provider_property(provider: EmailProvider) -> str:
    """The `Provider` property of a timeline event: the provider's type, as seed 003 names it."""
    return PROVIDER_PROPERTY.get(provider.kind, provider.get_kind_display())


# --- 5. daily stats --------------------------------------------------------------------------


def _add_to_stats(
    provider: EmailProvider, fresh: list[CallbackEvent], duplicates: int, now: datetime
) -> None:
    per_day: dict[date, Counter] = {}
    zone = timezone.get_current_timezone()
    for event in fresh:
        day = counted_at(event, now).astimezone(zone).date()
        per_day.setdefault(day, Counter())[event.kind.value] += 1
    if duplicates:
        per_day.setdefault(timezone.localdate(now), Counter())["duplicates"] += duplicates
    if not per_day:
        return
    counters = DailyStat.COUNTERS
    columns = [("date", "date"), *[(name, "integer") for name in counters]]
    adapt = adapter()
    rows = [(adapt(day), *[per_day[day][name] for name in counters]) for day in sorted(per_day)]
    source, params = rows_source(columns, rows)
    table = table_name(DailyStat)
    names = ", ".join(counters)
    values = ", ".join(f"v.{name}" for name in counters)
    increments = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in counters)
    sql = (
        f"INSERT INTO {table} (provider_id, date, {names}) "  # noqa: S608
        f"SELECT %s, v.date, {values} FROM ({source}) AS v WHERE true ORDER BY v.date "
        f"ON CONFLICT (provider_id, date) DO UPDATE SET {increments}"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [provider.pk, *params])


# --- 6. events of test emails -----------------------------------------------------------------


def named_test_email(meta: str) -> int | None:
    """The test email id in a meta value ``<recipient>|<test email id>|<provider id>``, if any.

    See `providers.adapters.base.make_meta`; the recipient may itself hold a "|".
    """
    parts = (meta or "").rsplit("|", 2)
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 18:
        return None
    return int(parts[1])


def names_test_email(meta: str, provider: EmailProvider) -> bool:
    """Whether `meta` is the one Postdesk gave a test email sent through `provider`."""
    return named_test_email(meta) is not None and meta.rpartition("|")[2] == str(provider.pk)


def _record_test_email_events(
    provider: EmailProvider, events: list[CallbackEvent], now: datetime
) -> None:
    """Store the events whose meta names one of this provider's test emails; ignore the rest."""
    rows = []
    for event in events:
        test_email_id = named_test_email(event.meta)
        if test_email_id is not None:
            at = adapter()(counted_at(event, now))
            rows.append((test_email_id, event.kind.value, at, event.description or ""))
    if not rows:
        return
    columns = [
        ("test_email_id", "bigint"),
        ("kind", "text"),
        ("occurred_at", "timestamptz"),
        ("description", "text"),
    ]
    source, params = rows_source(columns, rows)
    sql = (
        f"INSERT INTO {table_name(TestEmailEvent)} "  # noqa: S608
        "(test_email_id, kind, occurred_at, description, received_at) "
        "SELECT v.test_email_id, v.kind, v.occurred_at, v.description, %s "
        f"FROM ({source}) AS v JOIN {table_name(TestEmail)} AS t ON t.id = v.test_email_id "
        "WHERE t.provider_id = %s"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [adapter()(now), *params, provider.pk])


# --- the soft-bounce policy --------------------------------------------------------------------


def profiles_meeting_policy(threshold: int | None, window_days: int, now: datetime | None = None):
    """Active profiles that a policy of `threshold` soft bounces in `window_days` would affect."""
    if not threshold:
        return Profile.objects.none()
    now = now or timezone.now()
    return Profile.objects.filter(
        status=Profile.Status.ACTIVE,
        soft_bounce_count__gte=threshold,
        soft_bounce_since__gte=now - timedelta(days=window_days),
    )


def save_policy(policy: SoftBouncePolicy, now: datetime | None = None) -> int:
    """Save the policy and make the profiles it now covers Inactive; return how many."""
    now = now or timezone.now()
    with transaction.atomic():
        policy.pk = 1
        policy.save()
        affected = list(
            profiles_meeting_policy(policy.threshold, policy.window_days, now)
            .select_for_update()
            .order_by("email")
            .values_list("id", flat=True)
        )
        if not affected:
            return 0
        detail = f"Soft bounce policy: {policy}"
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
