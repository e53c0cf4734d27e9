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
    ParsedBatch,
    clean_email,
    content_key,
    require_keys,
    require_shallow,
    text,
    text_keys,
)
from .quick import (
    ANY_ESCAPE,
    CheckedEmail,
    CheckedWord,
    all_plain_emails,
    decode_checked,
    decode_plain,
)

KINDS = {
    "delivered": EventKind.DELIVERED,
    "soft_bounce": EventKind.SOFT_BOUNCE,
    "hard_bounce": EventKind.HARD_BOUNCE,
    "spam": EventKind.SPAM,
    "unsubscribed": EventKind.UNSUBSCRIBED,
}

ITEM_KEYS = ("type", "email", "meta")
FLAT_KEYS = ("version", "event", *ITEM_KEYS)

# The plain shapes the quick check and the plain parse read: exactly the documented keys, with
# values `parse` reads without error. Any other key, value or spelling is parsed in full. A
# missing description stays UNSET: the dedupe key tells it from a null one.
PlainType = Literal["delivered", "soft_bounce", "hard_bounce", "spam", "unsubscribed"]


class _PlainItem(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: PlainType
    email: CheckedEmail
    meta: CheckedWord
    description: str | None | msgspec.UnsetType = msgspec.UNSET


class _PlainFlatItem(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    version: Literal["v2"]
    event: CheckedWord
    type: PlainType
    email: CheckedEmail
    meta: CheckedWord
    description: str | None | msgspec.UnsetType = msgspec.UNSET


class _PlainNested(msgspec.Struct, forbid_unknown_fields=True):
    version: Literal["v2"]
    events: dict[str, list[_PlainItem]]


_plain_bodies = msgspec.json.Decoder(_PlainNested | list[_PlainFlatItem])
# An item as `text` writes it for its dedupe key (json.dumps with sorted keys, compact) when no
# string in it needs escaping.
_item_json = msgspec.json.Encoder(order="sorted")


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
        items = _plain_items(decode_checked(_plain_bodies, body))
        if items is None:
            return None
        if len(items) > self.max_events:
            raise MalformedPayload(TOO_MANY_EVENTS)
        return BatchReport(len(items), payload_format=self.name)

    def plain_parse(self, body: bytes) -> ParsedBatch | None:
        """`parse(body)` when the body is plainly readable and holds no escape, else None.

        It reads what `plain_check` reads, from a body without a backslash (`decode_plain`):
        then no string needs escaping, so msgspec writes an item, its keys sorted and compact,
        as `text` writes it with json.dumps for the dedupe key; each string is its own `text`,
        each address its own `clean_email`, each mapped ``type`` its own lowercase word. A batch
        past the limit is left to the parse, which refuses it.
        """
        items = _plain_items(decode_plain(_plain_bodies, body, escape=ANY_ESCAPE))
        if items is None or len(items) > self.max_events:
            return None
        keys = text_keys([(self.name, _item_json.encode(item).decode()) for item in items])
        events = [
            CallbackEvent(
                email=item.email,
                kind=KINDS[item.type],
                occurred_at=None,
                dedupe_key=dedupe_key,
                meta=item.meta,
                description=item.description or "",
                esp_event=item.type,
                suppress=KINDS[item.type] in SUPPRESSING_KINDS,
            )
            for item, dedupe_key in zip(items, keys, strict=True)
        ]
        return ParsedBatch(events, total=len(items), payload_format=self.name)

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


def _plain_items(body_data: Any) -> list | None:
    """The items of a body `_plain_bodies` read (None if it refused it), when every address
    is plain."""
    if body_data is None:
        return None
    if isinstance(body_data, list):
        items = body_data
    else:
        items = [item for bucket in body_data.events.values() for item in bucket]
    return items if all_plain_emails([item.email for item in items]) else None


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
