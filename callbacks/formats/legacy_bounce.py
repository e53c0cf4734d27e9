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

import time
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
    parse_timestamp,
    require_keys,
    require_shallow,
    text,
)
from .quick import CheckedEmail, CheckedTime, all_plain_emails, decode_checked

KINDS = {
    "softbounce": EventKind.SOFT_BOUNCE,
    "hardbounce": EventKind.HARD_BOUNCE,
    "unsubscribe": EventKind.UNSUBSCRIBED,
}


# The plain shape the quick check reads: exactly the documented keys, with values `parse`
# reads without error. Any other key, value or spelling is parsed in full.
class _PlainItem(msgspec.Struct, forbid_unknown_fields=True):
    e: CheckedEmail
    ts: CheckedTime = None
    reason: str | None = None
    description: str | None = None


class _PlainGroup(msgspec.Struct, forbid_unknown_fields=True):
    event: Literal["softbounce", "hardbounce", "unsubscribe"]
    data: list[_PlainItem]


_plain_groups = msgspec.json.Decoder(list[_PlainGroup])


class LegacyBounce(Format):
    name = "legacy_bounce"
    max_events = MAX_EVENTS
    kinds = KINDS

    def check(self, body: bytes) -> BatchReport:
        return self.plain_check(body) or self.parse(body).report()

    def plain_check(self, body: bytes) -> BatchReport | None:
        """`parse(body).report()` when every group and item is plainly readable, found in C;
        else None (as SendGrid's check)."""
        groups = decode_checked(_plain_groups, body)
        if groups is None:
            return None
        emails = [item.e for group in groups for item in group.data]
        if not all_plain_emails(emails):
            return None
        if len(emails) > self.max_events:
            raise MalformedPayload(TOO_MANY_EVENTS)
        return BatchReport(len(emails), payload_format=self.name)

    def items(self, data: Any) -> list[tuple[str, Any]]:
        """Each ``data`` item with its group's event word, across the groups in body order."""
        if not isinstance(data, list):
            raise MalformedPayload(INVALID_PAYLOAD)
        items: list[tuple[str, Any]] = []
        for group in data:
            require_keys(group, ("event",))
            if not isinstance(group.get("data"), list):
                raise MalformedPayload("Mandatory parameter missing: data")
            esp_event = text(group["event"]).strip().lower()
            items.extend((esp_event, item) for item in group["data"])
        return items

    def require(self, item: tuple[str, Any]) -> None:
        _esp_event, fields = item
        require_keys(fields, ("e",))
        require_shallow(fields)

    def event(self, item: tuple[str, Any]) -> CallbackEvent:
        esp_event, fields = item
        kind = KINDS.get(esp_event)
        if kind is None:
            raise ItemError(UNMAPPED_EVENT)
        email = clean_email(fields["e"])
        ts = fields.get("ts")
        return CallbackEvent(
            email=email,
            kind=kind,
            occurred_at=parse_timestamp(ts),
            dedupe_key=content_key(self.name, esp_event, email.lower(), ts)
            if ts not in (None, "")
            else content_key(self.name, esp_event, fields),
            description=text(fields.get("reason") or fields.get("description")),
            esp_event=esp_event,
            suppress=kind in SUPPRESSING_KINDS,
        )

    def sample_data(self) -> list:
        now = int(time.time())
        return [
            {"event": "softbounce", "data": [{"e": SAMPLE_EMAIL, "ts": now}]},
            {"event": "hardbounce", "data": [{"e": SAMPLE_EMAIL, "ts": now}]},
        ]


FORMAT = LegacyBounce()
