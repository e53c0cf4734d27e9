"""The inbox body of a mailbox batch: events the poller already read, as JSON.

``{"format": "mailbox", "events": [{"email", "kind", "meta", "description", "message_id"}]}``.
The dedupe key is the bounce's Message-ID and the recipient, so a message read twice (a poll
that crashed after storing its batch and before saving its resume point cannot, but a message
copied back into the folder can) counts once.
"""

from __future__ import annotations

import json
from typing import Any

from callbacks.models import EventKind
from callbacks.parsers.base import (
    INVALID_PAYLOAD,
    SUPPRESSING_KINDS,
    CallbackEvent,
    EventError,
    ItemError,
    MalformedPayload,
    ParsedBatch,
    clean_email,
    content_key,
    text,
)

FORMAT = "mailbox"
SOURCE = "mailbox"


def looks_like(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT


def encode(items: list[dict[str, str]]) -> bytes:
    return json.dumps({"format": FORMAT, "events": items}).encode()


def parse_data(data: dict) -> ParsedBatch:
    items = data.get("events")
    if not isinstance(items, list):
        raise MalformedPayload(INVALID_PAYLOAD)
    events, errors = [], []
    for index, item in enumerate(items):
        try:
            events.append(_event(item))
        except (ItemError, KeyError, TypeError, ValueError) as exc:
            errors.append(EventError(index, str(exc)))
    return ParsedBatch(events, errors=errors, total=len(items), payload_format=FORMAT)


def _event(item: dict) -> CallbackEvent:
    kind = EventKind(item["kind"])
    email = clean_email(item["email"])
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=None,
        dedupe_key=content_key(FORMAT, item.get("message_id"), email.lower()),
        meta=text(item.get("meta")),
        description=text(item.get("description")),
        esp_event=f"mailbox {kind.value}",
        suppress=kind in SUPPRESSING_KINDS,
    )


def parse(body: bytes) -> ParsedBatch:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedPayload(INVALID_PAYLOAD) from exc
    if not looks_like(data):
        raise MalformedPayload(INVALID_PAYLOAD)
    return parse_data(data)
