"""Events for a test email: recognised by their meta, recorded for the test email's page.

Test emails never change a profile (seed 003; the test-email form says so): their events are
counted in the stats and shown on the test email's page, not applied to profiles.
"""

from __future__ import annotations

from datetime import datetime

from common.bulk_sql import adapter, bound_cursor, rows_source, table_name
from providers.models import EmailProvider, TestEmail

from .formats.base import CallbackEvent
from .models import TestEmailEvent
from .stats import counted_at


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
    # The ending first: it is checked at C speed and rules out nearly every campaign's meta.
    return (meta or "").endswith(f"|{provider.pk}") and named_test_email(meta) is not None


def record_test_email_events(
    provider: EmailProvider, events: list[CallbackEvent], now: datetime
) -> None:
    """Store the events whose meta names one of this provider's test emails; ignore the rest.

    One INSERT … SELECT joined to the test emails, whatever the batch's size.
    """
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
