"""The inbox body of a mailbox batch: events the poller already read, as JSON.

``{"format": "mailbox", "events": [{"email", "kind", "meta", "description", "message_id"}]}``.
The dedupe key is the bounce's Message-ID and the recipient, so a message read twice (a poll
that crashed after storing its batch and before saving its resume point cannot, but a message
copied back into the folder can) counts once. The format is found by name for the inbox
(`callbacks.formats.named`) and belongs to no provider kind: no callback URL accepts it.
"""

from __future__ import annotations

import json
from typing import Any

from callbacks.models import EventKind

from .base import (
    INVALID_PAYLOAD,
    SAMPLE_EMAIL,
    SUPPRESSING_KINDS,
    CallbackEvent,
    Format,
    ItemError,
    MalformedPayload,
    clean_email,
    content_key,
    require_item_keys,
    text,
)

FORMAT = "mailbox"


def encode(items: list[dict[str, str]]) -> bytes:
    return json.dumps({"format": FORMAT, "events": items}).encode()


class MailboxFormat(Format):
    name = FORMAT
    kinds = {kind.value: kind for kind in EventKind}

    def items(self, data: Any) -> list:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MalformedPayload(INVALID_PAYLOAD)
        items = data.get("events")
        if not isinstance(items, list):
            raise MalformedPayload(INVALID_PAYLOAD)
        return items

    def event(self, item: Any) -> CallbackEvent:
        require_item_keys(item, ("kind", "email"))
        kind = self.kinds.get(item["kind"])
        if kind is None:
            raise ItemError(INVALID_PAYLOAD)
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

    def sample_data(self) -> Any:
        bounce = {"email": SAMPLE_EMAIL, "kind": EventKind.HARD_BOUNCE.value, "message_id": "<s>"}
        return {"format": FORMAT, "events": [bounce]}


MAILBOX = MailboxFormat()
