"""Mailgun's JSON webhooks (reference part 2, §2.2–2.6, decisions §4).

One event per POST: ``{"signature": {"timestamp", "token", "signature"}, "event-data": {…}}``.
The signature is ``hex(HMAC-SHA256(webhook signing key, timestamp + token))``; it does not
cover ``event-data``, so a request is also refused when its timestamp is outside `MAX_AGE`
(Mailgun retries for about 8 hours) or its token was used before (`claim_token`).

Mapping (§2.5): ``failed`` with ``severity: temporary`` is a deferral (ignored, the final event
follows); permanent failures are classified by ``reason`` and the SMTP code; ``suppress-*`` are
recipient-caused drops (Inactive); ``old`` and ``espblock`` are soft bounces (gave up);
``rejected`` is a sender-caused drop; engagement events are ignored. The event id is unique
only within a day, so events are de-duplicated on ``(id, timestamp)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
    SignatureError,
    clean_email,
    content_key,
    parse_timestamp,
    require_shallow,
    text,
)
from .signing import signed_at_within

NAME = "mailgun"
META_VARIABLE = "postdesk_meta"  # providers.adapters.mailgun sends it as v:postdesk_meta

MAX_AGE = timedelta(hours=24)  # Mailgun retries for about 8 hours (§2.2); the reference: ~24 h
MAX_SKEW = timedelta(minutes=5)

KINDS = {
    "delivered": EventKind.DELIVERED,
    "complained": EventKind.SPAM,
    "unsubscribed": EventKind.UNSUBSCRIBED,
    "rejected": EventKind.DROPPED,
}
SUPPRESSED_REASONS = ("suppress-bounce", "suppress-unsubscribe", "suppress-complaint")
GAVE_UP_REASONS = ("old", "espblock")


class MailgunSignatureError(SignatureError):
    """Mailgun did not sign this request, it is too old, or its token was used before."""

    status = 406  # "rejected, not retried" (§2.2); any other refusal Mailgun would retry


class Mailgun(Format):
    name = NAME
    kinds = KINDS

    def items(self, data: Any) -> list:
        """One event per body, under ``event-data``."""
        if not isinstance(data, dict) or not isinstance(data.get("event-data"), dict):
            raise MalformedPayload(INVALID_PAYLOAD)
        return [data["event-data"]]

    def require(self, item: Any) -> None:
        require_shallow(item)

    def event(self, item: Any) -> CallbackEvent:
        return event_from(item)

    def verify(self, provider, body: bytes, headers: Mapping[str, str]) -> None:
        verify(provider, body)

    def sample_data(self) -> dict:
        return sample_data("")

    def sample_for(self, provider) -> bytes:
        """The sample, signed with `provider`'s webhook signing key."""
        return json.dumps(sample_data(provider.webhook_secret)).encode()


def event_from(item: dict[str, Any]) -> CallbackEvent:
    esp_event = text(item.get("event")).strip().lower()
    if not esp_event:
        raise ItemError("Mandatory parameter missing: event")
    email = clean_email(_recipient(item))
    kind, suppress, description = classify(esp_event, item)
    event_id = text(item.get("id"))
    timestamp = item.get("timestamp")
    identity = (event_id,) if event_id else (_message_id(item), esp_event, email)
    variables = item.get("user-variables")
    meta = text(variables.get(META_VARIABLE)) if isinstance(variables, dict) else ""
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=parse_timestamp(timestamp),
        dedupe_key=content_key(NAME, *identity, text(timestamp)),
        meta=meta,
        description=description,
        event_id=event_id,
        esp_event=esp_event,
        suppress=suppress,
    )


def _headers(item: dict[str, Any]) -> dict:
    message = item.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else {}


def _recipient(item: dict[str, Any]) -> Any:
    """`recipient`, or the message's To header (absent on `rejected`, §2.5)."""
    if item.get("recipient") not in (None, ""):
        return item["recipient"]
    to = _headers(item).get("to")
    if to in (None, ""):
        raise ItemError("Mandatory parameter missing: recipient")
    return to


def _message_id(item: dict[str, Any]) -> str:
    return text(_headers(item).get("message-id")).strip().strip("<>")


def classify(esp_event: str, item: dict[str, Any]) -> tuple[EventKind, bool, str]:
    """The event's kind, whether it makes the address Inactive, and its description."""
    if esp_event != "failed":
        kind = KINDS.get(esp_event, EventKind.IGNORED)
        suppress = kind in SUPPRESSING_KINDS and kind != EventKind.DROPPED
        return kind, suppress, text(item.get("reason"))
    reason = text(item.get("reason")).strip().lower()
    status = item.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    words = " ".join(
        part for part in (text(status.get("code")), text(status.get("message"))) if part
    ).strip()
    description = f"{reason}: {words}" if words else reason
    if text(item.get("severity")).strip().lower() != "permanent":
        return EventKind.IGNORED, False, description  # a deferral; the final event follows
    if reason in SUPPRESSED_REASONS:
        return EventKind.DROPPED, True, description
    if reason in GAVE_UP_REASONS:
        return EventKind.SOFT_BOUNCE, False, description
    hard = bounce_is_hard(status, default_hard=reason == "bounce")
    return (
        (EventKind.HARD_BOUNCE, True, description)
        if hard
        else (
            EventKind.SOFT_BOUNCE,
            False,
            description,
        )
    )


def bounce_is_hard(status: dict[str, Any], *, default_hard: bool) -> bool:
    """Part 1 §5.1 by enhanced code, else the basic code: 5.1.x, 5.2.1 and other 5xx are hard;
    4xx, 5.2.2 and 5.7.x soft; without a code, `default_hard`."""
    enhanced = text(status.get("enhanced-code") or status.get("bounce-code")).strip()
    if enhanced[:2] in ("4.", "5."):
        return not enhanced.startswith(("4.", "5.2.2", "5.7."))
    code = text(status.get("code")).strip()
    if code.isdigit() and len(code) == 3:
        return code.startswith("5")
    return default_hard


# --- verifying ------------------------------------------------------------------------------
def signature_of(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify_signature(
    key: str, signature: Mapping[str, Any], now: datetime | None = None
) -> tuple[str, datetime]:
    """Check the HMAC and the timestamp window; the token and its time, for the replay check."""
    if not key:
        raise MailgunSignatureError("No webhook signing key is set")
    timestamp, token, given = (text(signature.get(k)) for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and given):
        raise MailgunSignatureError("Missing signature fields")
    expected = signature_of(key, timestamp, token).encode()
    if not hmac.compare_digest(expected, given.lower().encode("utf-8", "replace")):
        raise MailgunSignatureError("The signature does not match")
    signed_at = signed_at_within(timestamp, MAX_AGE, MAX_SKEW, now, MailgunSignatureError)
    return token, signed_at


def verify(provider, body: bytes, now: datetime | None = None) -> None:
    """Refuse a request Mailgun did not sign, an old one, or one whose token was used."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MailgunSignatureError("The body is not JSON") from exc
    signature = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(signature, dict):
        raise MailgunSignatureError("Missing signature")
    token, signed_at = verify_signature(provider.webhook_secret, signature, now)
    if not claim_token(provider, token, signed_at):
        raise MailgunSignatureError("The token was used before")


def claim_token(provider, token: str, signed_at: datetime) -> bool:
    """Record `token` as used; False when it was used before (kept as long as event keys)."""
    from callbacks.dedupe import _claim_keys, stored_key

    marker = CallbackEvent(
        email="",
        kind=EventKind.IGNORED,
        occurred_at=signed_at,
        dedupe_key=content_key(NAME + "-token", token),
    )
    key = stored_key(marker)
    return key in _claim_keys(provider, [key], datetime.now(UTC))


# --- the sample -----------------------------------------------------------------------------
def sample_data(key: str) -> dict:
    """A permanent bounce for `SAMPLE_EMAIL`, signed with `key`."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    event_data = {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "id": secrets.token_urlsafe(16),
        "timestamp": time.time(),
        "recipient": SAMPLE_EMAIL,
        "user-variables": {},
        "message": {"headers": {"to": SAMPLE_EMAIL, "message-id": "sample@postdesk.invalid"}},
        "delivery-status": {
            "code": 550,
            "enhanced-code": "5.1.1",
            "message": "Sample: no such user",
        },
    }
    signature = {
        "timestamp": timestamp,
        "token": token,
        "signature": signature_of(key, timestamp, token),
    }
    return {"signature": signature, "event-data": event_data}


FORMAT = Mailgun()
