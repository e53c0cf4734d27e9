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

from typing import Any

import msgspec

from callbacks.models import EventKind

from .base import (
    INVALID_PAYLOAD,
    SUPPRESSING_KINDS,
    BatchReport,
    CallbackEvent,
    CheckedEmail,
    CheckedTime,
    CheckedWord,
    EventError,
    ItemError,
    MalformedPayload,
    ParsedBatch,
    all_plain_emails,
    clean_email,
    content_key,
    decode_checked,
    load_json,
    parse_timestamp,
    require_item_keys,
    text,
)

FORMAT = "netcore"
MIGRATION_FORMAT = "netcore_migration"

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


def check(body: bytes) -> BatchReport:
    """`parse(body).report()`, found in C when every item is plainly readable.

    As SendGrid's check, for both shapes: an item is native when it has ``EVENT``, and must
    then have ``EMAIL``; otherwise it must have ``event`` and ``email``. Anything else,
    string timestamps included, is parsed in full.
    """
    items = decode_checked(_plain_items, body)
    if items is None:
        return parse(body).report()
    emails = [_checked_email(item) for item in items]
    if any(email is msgspec.UNSET for email in emails) or not all_plain_emails(emails):
        return parse(body).report()  # finds the odd items, a missing mandatory key included
    native = all(item.EVENT is not msgspec.UNSET for item in items)
    return BatchReport(len(items), payload_format=FORMAT if native else MIGRATION_FORMAT)


def _checked_email(item: _PlainItem) -> str | msgspec.UnsetType:
    """The item's address, UNSET when its shape's mandatory keys are not both there."""
    if item.EVENT is not msgspec.UNSET:
        return item.EMAIL
    return item.email if item.event is not msgspec.UNSET else msgspec.UNSET


def parse(body: bytes) -> ParsedBatch:
    data = load_json(body)
    if not isinstance(data, list):
        raise MalformedPayload(INVALID_PAYLOAD)
    events, errors = [], []
    for index, item in enumerate(data):
        try:
            events.append(_native_event(item) if _is_native(item) else _migration_event(item))
        except ItemError as exc:
            errors.append(EventError(index, str(exc)))
    native = bool(data) and all(_is_native(item) for item in data)
    payload_format = FORMAT if native or not data else MIGRATION_FORMAT
    return ParsedBatch(events, errors=errors, total=len(data), payload_format=payload_format)


def _is_native(item: Any) -> bool:
    return isinstance(item, dict) and "EVENT" in item


def _native_event(item: dict[str, Any]) -> CallbackEvent:
    require_item_keys(item, ("EVENT", "EMAIL"))
    esp_event = text(item["EVENT"]).strip().lower()
    email = clean_email(item["EMAIL"])
    kind = NATIVE_KINDS.get(esp_event, EventKind.IGNORED)
    if kind is EventKind.HARD_BOUNCE and "soft" in text(item.get("BOUNCE_TYPE")).lower():
        kind = EventKind.SOFT_BOUNCE
    description = text(item.get("BOUNCE_REASON") or item.get("RESPONSE"))
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=parse_timestamp(item.get("TIMESTAMP")),
        dedupe_key=content_key(
            FORMAT, item.get("TRANSID"), esp_event, email.lower(), item.get("TIMESTAMP")
        ),
        meta=text(item.get("X-APIHEADER")),
        description=description,
        event_id=text(item.get("TRANSID")),
        esp_event=esp_event,
        suppress=kind in SUPPRESSING_KINDS,
    )


def _migration_event(item: dict[str, Any]) -> CallbackEvent:
    require_item_keys(item, ("event", "email"))
    esp_event = text(item["event"]).strip().lower()
    email = clean_email(item["email"])
    kind = MIGRATION_KINDS.get(esp_event, EventKind.IGNORED)
    bounce_type = text(item.get("type") or item.get("bounce_type")).lower()
    if kind is EventKind.HARD_BOUNCE and ("soft" in bounce_type or bounce_type == "blocked"):
        kind = EventKind.SOFT_BOUNCE
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=parse_timestamp(item.get("timestamp")),
        dedupe_key=content_key(
            MIGRATION_FORMAT,
            item.get("sg_message_id"),
            esp_event,
            email.lower(),
            item.get("timestamp"),
        ),
        meta=text(item.get("meta") or item.get("X-APIHEADER")),
        description=text(item.get("reason") or item.get("response")),
        event_id=text(item.get("sg_message_id")),
        esp_event=esp_event,
        suppress=kind in SUPPRESSING_KINDS,
    )
