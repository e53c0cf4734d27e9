"""CleverTap's generic SMTP v2 callback (seed 003, reference §3.2).

Two shapes are accepted, because the documents show both:

* the documented sample, one object ``{"version": "v2", "events": {"success": [...],
  "failed": [...]}}`` whose items carry ``type``, ``email``, ``meta`` and ``description?``;
* flat items ``{version, event, type, email, meta, description?}``, one object or an array —
  the literal reading of the seed's key table.

Unknown extra keys are ignored (seed 003, "Note"). A ``type`` outside the table is a per-event
error, "Could not map event to any bounce type" (§7), so the rest of the batch still applies.
The format has no event id and no time: the event happens when it is received, and the dedupe
key hashes the whole item (``type``, ``email``, ``meta``, ``description`` and any other key,
a time the ESP adds included), so a replay is a duplicate and a second soft bounce for the same
send, which differs in some field, is counted. An item nested deeper than ``MAX_ITEM_DEPTH``
makes the payload invalid.
"""

import time
import uuid
from typing import Any, Literal

import msgspec

from callbacks.models import EventKind

from .base import (
    INVALID_PAYLOAD,
    MAX_EVENTS,
    SAMPLE_EMAIL,
    SUPPRESSING_KINDS,
    TOO_MANY_EVENTS,
    UNMAPPED_EVENT,
    BatchReport,
    CallbackEvent,
    Format,
    ItemError,
    MalformedPayload,
    clean_email,
    content_key,
    require_keys,
    require_shallow,
    text,
)
from .quick import CheckedEmail, CheckedWord, all_plain_emails, decode_checked

KINDS = {
    "delivered": EventKind.DELIVERED,
    "soft_bounce": EventKind.SOFT_BOUNCE,
    "hard_bounce": EventKind.HARD_BOUNCE,
    "spam": EventKind.SPAM,
    "unsubscribed": EventKind.UNSUBSCRIBED,
}

ITEM_KEYS = ("type", "email", "meta")
FLAT_KEYS = ("version", "event", *ITEM_KEYS)

# The plain shapes the quick check reads: exactly the documented keys, with values `parse`
# reads without error. Any other key, value or spelling is parsed in full.
PlainType = Literal["delivered", "soft_bounce", "hard_bounce", "spam", "unsubscribed"]


class _PlainItem(msgspec.Struct, forbid_unknown_fields=True):
    type: PlainType
    email: CheckedEmail
    meta: CheckedWord
    description: str | None = None


class _PlainFlatItem(msgspec.Struct, forbid_unknown_fields=True):
    version: Literal["v2"]
    event: CheckedWord
    type: PlainType
    email: CheckedEmail
    meta: CheckedWord
    description: str | None = None


class _PlainNested(msgspec.Struct, forbid_unknown_fields=True):
    version: Literal["v2"]
    events: dict[str, list[_PlainItem]]


_plain_bodies = msgspec.json.Decoder(_PlainNested | list[_PlainFlatItem])


class GenericV2(Format):
    name = "generic_v2"
    max_events = MAX_EVENTS
    kinds = KINDS

    def accepts(self, data: Any) -> bool:
        """Either v2 shape, or the empty array; what it refuses is the legacy bounce array."""
        if isinstance(data, dict):
            return "version" in data or "events" in data or "type" in data
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return "version" in data[0] or "type" in data[0]
        return data == []

    def check(self, body: bytes) -> BatchReport:
        return self.plain_check(body) or self.parse(body).report()

    def plain_check(self, body: bytes) -> BatchReport | None:
        """`parse(body).report()` when the body is plainly readable, found in C; else None.

        As SendGrid's check: msgspec reads the documented nested shape, or an array of flat
        items, with only the documented keys, a mapped ``type``, a plain address and a
        ``meta``; one regular expression checks every address.
        """
        body_data = decode_checked(_plain_bodies, body)
        if body_data is None:
            return None
        if isinstance(body_data, list):
            items = body_data
        else:
            items = [item for bucket in body_data.events.values() for item in bucket]
        if not all_plain_emails([item.email for item in items]):
            return None
        if len(items) > self.max_events:
            raise MalformedPayload(TOO_MANY_EVENTS)
        return BatchReport(len(items), payload_format=self.name)

    def items(self, data: Any) -> list[tuple[Any, tuple[str, ...]]]:
        """Each item with the keys it must have, by the shape it came in."""
        if isinstance(data, dict) and isinstance(data.get("events"), dict):
            return _nested_items(data)
        if isinstance(data, dict) and "events" not in data:
            return [(data, FLAT_KEYS)]
        if isinstance(data, list):
            return [(item, FLAT_KEYS) for item in data]
        raise MalformedPayload(INVALID_PAYLOAD)  # not JSON's object or array, or "events" odd

    def require(self, item: tuple[Any, tuple[str, ...]]) -> None:
        fields, keys = item
        require_keys(fields, keys)
        require_shallow(fields)
        if keys is FLAT_KEYS:
            _check_version(fields)

    def event(self, item: tuple[Any, tuple[str, ...]]) -> CallbackEvent:
        fields, _keys = item
        esp_type = text(fields["type"]).strip().lower()
        kind = KINDS.get(esp_type)
        if kind is None:
            raise ItemError(UNMAPPED_EVENT)
        return CallbackEvent(
            email=clean_email(fields["email"]),
            kind=kind,
            occurred_at=None,
            dedupe_key=content_key(self.name, fields),
            meta=text(fields["meta"]),
            description=text(fields.get("description")),
            esp_event=esp_type,
            suppress=kind in SUPPRESSING_KINDS,
        )

    def sample_data(self) -> dict:
        meta = f"{SAMPLE_EMAIL}|{int(time.time())}|sample|{uuid.uuid4().hex[:12]}|"
        return {
            "version": "v2",
            "events": {
                "success": [{"type": "delivered", "email": SAMPLE_EMAIL, "meta": meta}],
                "failed": [
                    {
                        "type": "soft_bounce",
                        "email": SAMPLE_EMAIL,
                        "meta": meta,
                        "description": "Sample: mailbox full",
                    },
                    {
                        "type": "hard_bounce",
                        "email": SAMPLE_EMAIL,
                        "meta": meta,
                        "description": "Sample: mailbox does not exist",
                    },
                ],
            },
        }


def _nested_items(data: dict) -> list[tuple[Any, tuple[str, ...]]]:
    require_keys(data, ("version",))
    _check_version(data)
    items = []
    # Every bucket counts toward the 1000-event limit, in body order.
    for bucket in data["events"].values():
        if not isinstance(bucket, list):
            raise MalformedPayload(INVALID_PAYLOAD)
        items.extend((item, ITEM_KEYS) for item in bucket)
    return items


def _check_version(item: dict) -> None:
    if text(item.get("version")).lower() != "v2":
        raise MalformedPayload(INVALID_PAYLOAD)


FORMAT = GenericV2()
