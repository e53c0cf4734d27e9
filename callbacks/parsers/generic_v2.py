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

from typing import Any

from callbacks.models import EventKind

from .base import (
    INVALID_PAYLOAD,
    SUPPRESSING_KINDS,
    UNMAPPED_EVENT,
    CallbackEvent,
    EventError,
    ItemError,
    MalformedPayload,
    ParsedBatch,
    check_count,
    clean_email,
    content_key,
    load_json,
    require_keys,
    require_shallow,
    text,
)

FORMAT = "generic_v2"

KINDS = {
    "delivered": EventKind.DELIVERED,
    "soft_bounce": EventKind.SOFT_BOUNCE,
    "hard_bounce": EventKind.HARD_BOUNCE,
    "spam": EventKind.SPAM,
    "unsubscribed": EventKind.UNSUBSCRIBED,
}

ITEM_KEYS = ("type", "email", "meta")
FLAT_KEYS = ("version", "event", *ITEM_KEYS)


def parse(body: bytes) -> ParsedBatch:
    return parse_data(load_json(body))


def looks_like(data: Any) -> bool:
    """True for either v2 shape; used to tell v2 from the legacy bounce array."""
    if isinstance(data, dict):
        return "version" in data or "events" in data or "type" in data
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return "version" in data[0] or "type" in data[0]
    return False


def parse_data(data: Any) -> ParsedBatch:
    if isinstance(data, dict) and isinstance(data.get("events"), dict):
        items = _nested_items(data)
    elif isinstance(data, dict) and "events" not in data:
        items = [(data, FLAT_KEYS)]
    elif isinstance(data, list):
        items = [(item, FLAT_KEYS) for item in data]
    elif isinstance(data, dict):
        raise MalformedPayload(INVALID_PAYLOAD)  # "events" present but not an object
    else:
        raise MalformedPayload(INVALID_PAYLOAD)
    check_count(len(items))
    for item, keys in items:
        require_keys(item, keys)
        require_shallow(item)
        if keys is FLAT_KEYS:
            _check_version(item)
    events, errors = [], []
    for index, (item, _keys) in enumerate(items):
        try:
            events.append(_event(item))
        except ItemError as exc:
            errors.append(EventError(index, str(exc)))
    return ParsedBatch(events, errors=errors, total=len(items), payload_format=FORMAT)


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


def _event(item: dict) -> CallbackEvent:
    esp_type = text(item["type"]).strip().lower()
    kind = KINDS.get(esp_type)
    if kind is None:
        raise ItemError(UNMAPPED_EVENT)
    email = clean_email(item["email"])
    meta = text(item["meta"])
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=None,
        dedupe_key=content_key(FORMAT, item),
        meta=meta,
        description=text(item.get("description")),
        esp_event=esp_type,
        suppress=kind in SUPPRESSING_KINDS,
    )
