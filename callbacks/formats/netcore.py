"""Netcore Cloud's webhooks (seed 000, reference §2.2–2.3, mapping §7).

Two shapes, told apart per item: Netcore's native format with UPPERCASE keys (``TRANSID``,
``EMAIL``, ``EVENT``, ``TIMESTAMP``, ``RESPONSE``, ``X-APIHEADER``, ``BOUNCE_TYPE``…) and the
SendGrid-like lowercase "migration" format (``sg_message_id``, ``email``, ``event``,
``timestamp``, ``reason``, ``response``). Netcore verifies a URL with ``HEAD`` and then an
empty array, so ``[]`` is a valid, empty batch. Netcore batches by its own rules: there is no
1000-event limit, and an item without its shape's mandatory keys is an error for that item
alone.

Neither format has an event id: the dedupe key hashes ``TRANSID``/``sg_message_id``, the event,
the address and the timestamp. The complaint event is named ``spam`` on some Netcore pages and
``abuse`` on others: both mean spam. A bounce is hard unless ``BOUNCE_TYPE`` says
``SOFTBOUNCE``. Every Netcore drop is a suppression of the recipient (unsubscribed, bounced,
complained, blacklisted), so drops make the address Inactive. ``X-APIHEADER`` is our pass-through
value and becomes ``meta``.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from callbacks.models import EventKind

from .base import (
    SAMPLE_EMAIL,
    SUPPRESSING_KINDS,
    BatchReport,
    CallbackEvent,
    Format,
    content_key,
    event_and_email,
    parse_timestamp,
    text,
)
from .quick import CheckedEmail, CheckedTime, CheckedWord, all_plain_emails, decode_checked

NATIVE_KINDS = {
    "sent": EventKind.DELIVERED,
    "delivered": EventKind.DELIVERED,
    "bounced": EventKind.HARD_BOUNCE,  # soft when BOUNCE_TYPE says so
    "bounce": EventKind.HARD_BOUNCE,
    "softbounce": EventKind.SOFT_BOUNCE,
    "hardbounce": EventKind.HARD_BOUNCE,
    "dropped": EventKind.DROPPED,
    "invalid": EventKind.INVALID,
    "unsubscribed": EventKind.UNSUBSCRIBED,
    "unsubscribe": EventKind.UNSUBSCRIBED,
    "spam": EventKind.SPAM,
    "abuse": EventKind.SPAM,
    "opened": EventKind.IGNORED,
    "clicked": EventKind.IGNORED,
}

MIGRATION_KINDS = {
    "delivered": EventKind.DELIVERED,
    "bounce": EventKind.HARD_BOUNCE,
    "dropped": EventKind.DROPPED,
    "invalid": EventKind.INVALID,
    "unsubscribe": EventKind.UNSUBSCRIBED,
    "abuse": EventKind.SPAM,
    "spam": EventKind.SPAM,
    "spamreport": EventKind.SPAM,
    "open": EventKind.IGNORED,
    "click": EventKind.IGNORED,
}


@dataclass(frozen=True)
class _Shape:
    """Where one of Netcore's two shapes keeps each field an event is made of."""

    format: str
    kinds: Mapping[str, EventKind]
    event: str
    email: str
    timestamp: str
    event_id: str
    meta: tuple[str, ...]  # the first key with a true value wins (`_first`)
    description: tuple[str, ...]
    bounce_type: tuple[str, ...]
    blocked_is_soft: bool


NATIVE = _Shape(
    format="netcore",
    kinds=NATIVE_KINDS,
    event="EVENT",
    email="EMAIL",
    timestamp="TIMESTAMP",
    event_id="TRANSID",
    meta=("X-APIHEADER",),
    description=("BOUNCE_REASON", "RESPONSE"),
    bounce_type=("BOUNCE_TYPE",),
    blocked_is_soft=False,
)
MIGRATION = _Shape(
    format="netcore_migration",
    kinds=MIGRATION_KINDS,
    event="event",
    email="email",
    timestamp="timestamp",
    event_id="sg_message_id",
    meta=("meta", "X-APIHEADER"),
    description=("reason", "response"),
    bounce_type=("type", "bounce_type"),
    blocked_is_soft=True,
)


class _PlainItem(msgspec.Struct):
    """The fields of an item, of either shape, that decide the answer, in a form `parse` reads
    without error; UNSET where the item has no such key."""

    EVENT: CheckedWord | msgspec.UnsetType = msgspec.UNSET
    EMAIL: CheckedEmail | msgspec.UnsetType = msgspec.UNSET
    TIMESTAMP: CheckedTime = None
    event: CheckedWord | msgspec.UnsetType = msgspec.UNSET
    email: CheckedEmail | msgspec.UnsetType = msgspec.UNSET
    timestamp: CheckedTime = None


_plain_items = msgspec.json.Decoder(list[_PlainItem])


class Netcore(Format):
    name = NATIVE.format
    names = (NATIVE.format, MIGRATION.format)
    kinds = NATIVE_KINDS

    def check(self, body: bytes) -> BatchReport:
        """`parse(body).report()`, found in C when every item is plainly readable.

        As SendGrid's check, for both shapes: an item is native when it has ``EVENT``, and
        must then have ``EMAIL``; otherwise it must have ``event`` and ``email``. Anything
        else, string timestamps included, is parsed in full.
        """
        items = decode_checked(_plain_items, body)
        if items is None:
            return self.parse(body).report()
        emails = [_checked_email(item) for item in items]
        if any(email is msgspec.UNSET for email in emails) or not all_plain_emails(emails):
            return self.parse(body).report()  # finds the odd items, a missing key included
        native = all(item.EVENT is not msgspec.UNSET for item in items)
        return BatchReport(len(items), payload_format=(NATIVE if native else MIGRATION).format)

    def event(self, item: Any) -> CallbackEvent:
        shape = NATIVE if _is_native(item) else MIGRATION
        esp_event, email = event_and_email(item, shape.event, shape.email)
        kind = shape.kinds.get(esp_event, EventKind.IGNORED)
        bounce_type = text(_first(item, shape.bounce_type)).lower()
        soft = "soft" in bounce_type or (shape.blocked_is_soft and bounce_type == "blocked")
        if kind is EventKind.HARD_BOUNCE and soft:
            kind = EventKind.SOFT_BOUNCE
        timestamp = item.get(shape.timestamp)
        return CallbackEvent(
            email=email,
            kind=kind,
            occurred_at=parse_timestamp(timestamp),
            # The kind too: a soft and a hard bounce of one send may share event and time.
            dedupe_key=content_key(
                shape.format,
                item.get(shape.event_id),
                esp_event,
                kind.value,
                email.lower(),
                timestamp,
            ),
            meta=text(_first(item, shape.meta)),
            description=text(_first(item, shape.description)),
            event_id=text(item.get(shape.event_id)),
            esp_event=esp_event,
            suppress=kind in SUPPRESSING_KINDS,
        )

    def format_of(self, items: list) -> str:
        native = all(_is_native(item) for item in items)  # an empty batch is Netcore's probe
        return (NATIVE if native else MIGRATION).format

    def sample_data(self) -> list:
        shared = {
            "TRANSID": str(int(time.time() * 1000)),
            "EMAIL": SAMPLE_EMAIL,
            "TIMESTAMP": int(time.time()),
            "X-APIHEADER": "sample",
        }
        events = [
            {"EVENT": "sent", "RESPONSE": "250 OK"},
            {"EVENT": "bounced", "BOUNCE_TYPE": "SOFTBOUNCE", "RESPONSE": "Sample: mailbox full"},
            {"EVENT": "bounced", "BOUNCE_TYPE": "HARDBOUNCE", "RESPONSE": "Sample: no such user"},
            {"EVENT": "opened"},
        ]
        return [{**shared, **event} for event in events]


def _checked_email(item: _PlainItem) -> str | msgspec.UnsetType:
    """The item's address, UNSET when its shape's mandatory keys are not both there."""
    if item.EVENT is not msgspec.UNSET:
        return item.EMAIL
    return item.email if item.event is not msgspec.UNSET else msgspec.UNSET


def _is_native(item: Any) -> bool:
    return isinstance(item, dict) and "EVENT" in item


def _first(item: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """``item.get(a) or item.get(b) or …``: the first true value, else the last key's value."""
    *earlier, last = keys
    return next((item[key] for key in earlier if item.get(key)), item.get(last))


FORMAT = Netcore()
