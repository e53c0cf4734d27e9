"""CleverTap's legacy bounce callback (seed 002, reference §3.1).

A JSON array of groups ``{"event": "softbounce" | "hardbounce" | "unsubscribe", "data":
[{"e": <email>, "ts": <epoch seconds>}, ...]}``; the 2021 Generic SMTP page adds the
``unsubscribe`` group. "If unsure of the bounce time, use now": a missing ``ts`` means the
time of receipt. Event indexes in errors count the ``data`` items across all groups, in body
order. Dedupe key: hash(event, e, ts) (§7); for an item without ``ts``, a hash of the event
and the whole item, so a retried body is a duplicate for as long as keys are kept
(``CALLBACK_DEDUPE_DAYS``, longer than any ESP retries). An item nested deeper than
``MAX_ITEM_DEPTH`` makes the payload invalid.
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
    parse_timestamp,
    require_keys,
    require_shallow,
    text,
)

FORMAT = "legacy_bounce"

KINDS = {
    "softbounce": EventKind.SOFT_BOUNCE,
    "hardbounce": EventKind.HARD_BOUNCE,
    "unsubscribe": EventKind.UNSUBSCRIBED,
}


def parse(body: bytes) -> ParsedBatch:
    return parse_data(load_json(body))


def parse_data(data: Any) -> ParsedBatch:
    if not isinstance(data, list):
        raise MalformedPayload(INVALID_PAYLOAD)
    items: list[tuple[str, Any]] = []
    for group in data:
        require_keys(group, ("event",))
        if not isinstance(group.get("data"), list):
            raise MalformedPayload("Mandatory parameter missing: data")
        esp_event = text(group["event"]).strip().lower()
        items.extend((esp_event, item) for item in group["data"])
    check_count(len(items))
    for _esp_event, item in items:
        require_keys(item, ("e",))
        require_shallow(item)
    events, errors = [], []
    for index, (esp_event, item) in enumerate(items):
        try:
            events.append(_event(esp_event, item))
        except ItemError as exc:
            errors.append(EventError(index, str(exc)))
    return ParsedBatch(events, errors=errors, total=len(items), payload_format=FORMAT)


def _event(esp_event: str, item: dict) -> CallbackEvent:
    kind = KINDS.get(esp_event)
    if kind is None:
        raise ItemError(UNMAPPED_EVENT)
    email = clean_email(item["e"])
    ts = item.get("ts")
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=parse_timestamp(ts),
        dedupe_key=content_key(FORMAT, esp_event, email.lower(), ts)
        if ts not in (None, "")
        else content_key(FORMAT, esp_event, item),
        description=text(item.get("reason") or item.get("description")),
        esp_event=esp_event,
        suppress=kind in SUPPRESSING_KINDS,
    )
