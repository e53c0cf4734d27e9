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
    ParsedBatch,
    content_key,
    event_and_email,
    parse_timestamp,
    text,
    text_keys,
)
from .quick import (
    CheckedEmail,
    CheckedTime,
    CheckedWord,
    Memo,
    PlainText,
    all_plain_emails,
    decode_checked,
    decode_plain,
    plain_times,
)

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


@dataclass(frozen=True, eq=False)
class _Shape:
    """Where one of Netcore's two shapes keeps each field an event is made of (each shape is
    one object, equal only to itself)."""

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


class _ReadableItem(_PlainItem, gc=False):
    """`_PlainItem` with every other field an event of either shape is made of, each read as
    `text` reads it; an id may also be an int, which `text` writes out."""

    TRANSID: PlainText | int = None
    X_APIHEADER: PlainText = msgspec.field(default=None, name="X-APIHEADER")
    BOUNCE_TYPE: PlainText = None
    BOUNCE_REASON: PlainText = None
    RESPONSE: PlainText = None
    sg_message_id: PlainText | int = None
    meta: PlainText = None
    reason: PlainText = None
    response: PlainText = None
    type: PlainText = None
    bounce_type: PlainText = None


_readable_items = msgspec.json.Decoder(list[_ReadableItem])


class _Fields(msgspec.Struct, gc=False):
    """What `event` reads of a `_ReadableItem`, from the keys its shape (`NATIVE`,
    `MIGRATION`) names, `_first` taken; the event id as `text` writes it."""

    shape: _Shape
    event: str
    email: str
    event_id: str
    timestamp: int | None
    meta: str | None
    description: str | None
    bounce_type: str | None


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
        if items is None or not _all_plain(items):
            return self.parse(body).report()  # finds the odd items, a missing key included
        native = all(item.EVENT is not msgspec.UNSET for item in items)
        return BatchReport(len(items), payload_format=(NATIVE if native else MIGRATION).format)

    def plain_parse(self, body: bytes) -> ParsedBatch | None:
        """`parse(body)` when every item is plainly readable, else None.

        msgspec reads what `check` reads, and every other field an event of either shape is
        made of as a string or null (`_ReadableItem`), from a body without a NUL escape
        (`decode_plain`). Then `text` of a field is its value as decoded ("" for null), an
        int id written out; `clean_email` keeps each address, `plain_times` reads each time as
        `parse_timestamp` does, and the event word and bounce type go through `_kind`, once for
        each combination in the batch.
        """
        items = decode_plain(_readable_items, body)
        if items is None or not _all_plain(items):
            return None
        readable = [_plain_fields(item) for item in items]
        kinds = Memo(_plain_kind)
        words = [kinds[fields.shape, fields.event, fields.bounce_type] for fields in readable]
        # The kind too: a soft and a hard bounce of one send may share event and time.
        keys = text_keys(
            (
                fields.shape.format,
                fields.event_id,
                esp_event,
                kind_value,
                fields.email.lower(),
                text(fields.timestamp),
            )
            for fields, (esp_event, _, kind_value, _) in zip(readable, words, strict=True)
        )
        times = plain_times([fields.timestamp for fields in readable])
        events = [
            CallbackEvent(
                email=fields.email,
                kind=kind,
                occurred_at=occurred_at,
                dedupe_key=dedupe_key,
                meta=fields.meta or "",
                description=fields.description or "",
                event_id=fields.event_id,
                esp_event=esp_event,
                suppress=suppress,
            )
            for fields, (esp_event, kind, _, suppress), occurred_at, dedupe_key in zip(
                readable, words, times, keys, strict=True
            )
        ]
        native = all(fields.shape is NATIVE for fields in readable)
        return ParsedBatch(
            events, total=len(items), payload_format=(NATIVE if native else MIGRATION).format
        )

    def event(self, item: Any) -> CallbackEvent:
        shape = NATIVE if _is_native(item) else MIGRATION
        esp_event, email = event_and_email(item, shape.event, shape.email)
        kind = _kind(shape, esp_event, text(_first(item, shape.bounce_type)))
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


def _kind(shape: _Shape, esp_event: str, bounce_type: str) -> EventKind:
    """Our kind for the ESP's word: a bounce is soft when its type says so."""
    kind = shape.kinds.get(esp_event, EventKind.IGNORED)
    bounce_type = bounce_type.lower()
    soft = "soft" in bounce_type or (shape.blocked_is_soft and bounce_type == "blocked")
    return EventKind.SOFT_BOUNCE if kind is EventKind.HARD_BOUNCE and soft else kind


def _plain_kind(
    shape: _Shape, event: str, bounce_type: str | None
) -> tuple[str, EventKind, str, bool]:
    """The event word as `event` reads it, its `_kind`, the kind's value and whether it
    suppresses the address."""
    esp_event = text(event).strip().lower()
    kind = _kind(shape, esp_event, text(bounce_type))
    return esp_event, kind, kind.value, kind in SUPPRESSING_KINDS


def _plain_fields(item: _ReadableItem) -> _Fields:
    """The item's fields where its shape keeps them: native when it has ``EVENT``."""
    if item.EVENT is not msgspec.UNSET:
        return _Fields(
            NATIVE,
            item.EVENT,
            item.EMAIL,
            text(item.TRANSID),
            item.TIMESTAMP,
            item.X_APIHEADER,
            item.BOUNCE_REASON or item.RESPONSE,
            item.BOUNCE_TYPE,
        )
    return _Fields(
        MIGRATION,
        item.event,
        item.email,
        text(item.sg_message_id),
        item.timestamp,
        item.meta or item.X_APIHEADER,
        item.reason or item.response,
        item.type or item.bounce_type,
    )


def _all_plain(items: list[_PlainItem]) -> bool:
    """True when every item has its shape's mandatory keys and a plain address."""
    emails = [_checked_email(item) for item in items]
    return not any(email is msgspec.UNSET for email in emails) and all_plain_emails(emails)


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
