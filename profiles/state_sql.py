"""The bulk SQL behind `profiles.suppression`: read, lock and write profile states, add timelines.

Every function is one statement whatever the number of rows: rows travel as one array
parameter per column (`unnest` on PostgreSQL) or one JSON parameter (`json_each` on SQLite),
see `common.bulk_sql`. Profiles are locked in email order, like every other bulk writer, so
concurrent batches for the same profiles queue instead of deadlocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from common.bulk_sql import adapter, bound_cursor, model_defaults, rows_source, table_name

from .models import Profile, TimelineEvent

# A timeline row as `suppression._fold` returns it and `insert_timeline` writes it: the
# columns, then the event's properties in their columns, None where the event has no such
# property.
TIMELINE_ROW = [
    ("profile_id", "bigint"),
    ("kind", "text"),
    ("occurred_at", "timestamptz"),
    ("esp_event", "text"),
    ("meta", "text"),
    ("event_id", "text"),
    ("error", "text"),
    ("unsubscribe_type", "text"),
    ("reason", "text"),
]


@dataclass(slots=True)
class ProfileState:
    """The columns of a profile that deliveries change; `changed` once any of them did."""

    id: int
    status: str
    inactive_reason: str
    inactive_since: datetime | None
    inactive_provider: str
    inactive_detail: str
    soft_bounce_count: int
    soft_bounce_since: datetime | None
    changed: bool = False

    def trial_copy(self) -> ProfileState:
        """A copy to fold into without touching this state (`copy.copy` is far slower)."""
        return ProfileState(
            self.id,
            self.status,
            self.inactive_reason,
            self.inactive_since,
            self.inactive_provider,
            self.inactive_detail,
            self.soft_bounce_count,
            self.soft_bounce_since,
        )


PROFILE_STATE_FIELDS = ["email", "id", *Profile.STATUS_FIELDS]


def upsert_profiles(emails: list[str], now: datetime) -> tuple[int, dict[str, ProfileState]]:
    """INSERT … ON CONFLICT (email) DO NOTHING a profile for every address.

    Returns how many it created and the state of every address's profile: those it created
    come back from the INSERT itself, and only addresses another writer created meanwhile
    are read again.
    """
    fixed_names, fixed_values = model_defaults(Profile, exclude={"email"}, now=now)
    source, params = rows_source([("email", "text")], [(email,) for email in emails])
    columns = ", ".join(["email", *fixed_names])
    placeholders = ", ".join(["v.email", *["%s"] * len(fixed_names)])
    sql = (
        f"INSERT INTO {table_name(Profile)} ({columns}) "  # noqa: S608
        f"SELECT {placeholders} FROM ({source}) AS v WHERE true ORDER BY v.email "
        f"ON CONFLICT (email) DO NOTHING RETURNING {', '.join(PROFILE_STATE_FIELDS)}"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [*fixed_values, *params])
        states = _states(cursor.fetchall())
    created = len(states)
    others = [email for email in emails if email not in states]
    if others:
        states.update(read_profiles(others))
    return created, states


def read_profiles(emails: list[str]) -> dict[str, ProfileState]:
    """The state of the batch's profiles, unlocked: reading them dirties no page."""
    if connection.vendor != "postgresql":
        return _states(Profile.objects.filter(email__in=emails).values_list(*PROFILE_STATE_FIELDS))
    return _select_states("email = ANY(%b::text[])", emails)


def lock_profiles(ids: list[int]) -> dict[str, ProfileState]:
    """Lock and re-read the profiles about to change, in email order so concurrent writers queue."""
    if not ids:
        return {}
    if connection.vendor != "postgresql":
        # SQLite holds the database write lock for the whole transaction: no row locks.
        return _states(Profile.objects.filter(id__in=ids).values_list(*PROFILE_STATE_FIELDS))
    return _select_states("id = ANY(%b::bigint[]) ORDER BY email FOR NO KEY UPDATE", ids)


def _select_states(condition: str, values: list) -> dict[str, ProfileState]:
    """PostgreSQL: profile states WHERE `condition`, which takes `values` as one array parameter.

    One array instead of an IN list: the same query text for any batch size.
    """
    sql = f"SELECT {', '.join(PROFILE_STATE_FIELDS)} FROM {table_name(Profile)} WHERE {condition}"  # noqa: S608
    with bound_cursor() as cursor:
        cursor.execute(sql, [values])
        return _states(cursor.fetchall())


def _states(rows) -> dict[str, ProfileState]:
    return {row[0]: ProfileState(*row[1:]) for row in rows}


def update_profiles(states: list[ProfileState], now: datetime) -> None:
    """Write the states' columns to their profiles with one UPDATE … FROM."""
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


def insert_timeline(nickname: str, type_label: str, rows: list[tuple], now: datetime) -> None:
    """Insert `TIMELINE_ROW` rows of events reported by the provider `nickname` of the type
    `type_label` (their `Provider nickname` and `Provider` properties)."""
    if not rows:
        return
    fixed_names, fixed_values = model_defaults(
        TimelineEvent,
        exclude={
            "profile",
            *(name for name, _type in TIMELINE_ROW),
            "provider_name",
            "provider_type",
        },
        now=now,
    )
    if connection.vendor != "postgresql":
        adapt = adapter()
        rows = [(pid, kind, adapt(at), *properties) for pid, kind, at, *properties in rows]
    source, params = rows_source(TIMELINE_ROW, rows)
    columns = [name for name, _type in TIMELINE_ROW]
    names = ", ".join([*columns, "provider_name", "provider_type", *fixed_names])
    values = ", ".join([*(f"v.{name}" for name in columns), *["%s"] * (2 + len(fixed_names))])
    sql = (
        f"INSERT INTO {table_name(TimelineEvent)} ({names}) "  # noqa: S608
        f"SELECT {values} FROM ({source}) AS v"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [nickname, type_label, *fixed_values, *params])
