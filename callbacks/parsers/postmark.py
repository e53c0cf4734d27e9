"""Postmark's webhooks (reference part 2, §3.2–3.5 and §4).

One JSON object per request, with ``RecordType`` ∈ Bounce, SpamComplaint, Delivery, Open,
Click, SubscriptionChange. Keys are read case-insensitively (``ServerID`` and ``ServerId``
both occur). Our meta comes back in ``Metadata.meta``. Times are ISO 8601 with an offset.

Product decisions: bounce types map as `BOUNCE_TYPES` (the reference's table); switch on
``RecordType`` and ``Type``, never ``TypeCode`` (SpamComplaint shows 512, which the type
table gives to SpamNotification). A SubscriptionChange that turns suppression on maps by its
``SuppressionReason`` (ManualSuppression → unsubscribed, whatever the ``Origin``); turning it
off is recorded and changes nothing: Postdesk never reactivates a profile by itself.

De-duplication is on each record's identity (§3.5): ``ID`` for Bounce and SpamComplaint,
(MessageID, Recipient) for Delivery, (MessageStream, Recipient, ChangedAt, SuppressSending)
for SubscriptionChange. A SubscriptionChange that echoes a bounce applies idempotently: the
profile is already Inactive for the same reason.

Postmark does not sign webhooks: `verify` checks the basic-auth pair and the secret header
Postdesk generated for the provider, in constant time.
"""

import base64
import binascii
import hmac
from datetime import datetime
from typing import Any

from callbacks.models import EventKind
from providers.forms.postmark import WEBHOOK_HEADER, WEBHOOK_USERNAME

from .base import (
    INVALID_PAYLOAD,
    SUPPRESSING_KINDS,
    CallbackEvent,
    EventError,
    ItemError,
    MalformedPayload,
    ParsedBatch,
    clean_email,
    content_key,
    load_json,
    require_shallow,
    text,
)

FORMAT = "postmark"

RECORD_TYPES = {
    "delivery": EventKind.DELIVERED,
    "spamcomplaint": EventKind.SPAM,
    "open": EventKind.IGNORED,
    "click": EventKind.IGNORED,
}

# Bounce ``Type`` → (kind, makes the address Inactive), reference §3.4.
BOUNCE_TYPES: dict[str, tuple[EventKind, bool]] = {
    "hardbounce": (EventKind.HARD_BOUNCE, True),
    "bademailaddress": (EventKind.INVALID, True),
    "softbounce": (EventKind.SOFT_BOUNCE, False),
    "transient": (EventKind.IGNORED, False),  # a delay notice, not a bounce (§4.1)
    "dnserror": (EventKind.SOFT_BOUNCE, False),
    "unknown": (EventKind.SOFT_BOUNCE, False),  # unclassified ⇒ soft (§4.2)
    "spamnotification": (EventKind.SOFT_BOUNCE, False),  # a refusal, not a complaint (§4.4)
    "virusnotification": (EventKind.SOFT_BOUNCE, False),
    "blocked": (EventKind.SOFT_BOUNCE, False),
    "dmarcpolicy": (EventKind.SOFT_BOUNCE, False),
    "autoresponder": (EventKind.IGNORED, False),
    "addresschange": (EventKind.IGNORED, False),
    "challengeverification": (EventKind.IGNORED, False),
    "openrelaytest": (EventKind.IGNORED, False),
    "subscribe": (EventKind.IGNORED, False),
    "unsubscribe": (EventKind.UNSUBSCRIBED, True),
    "manuallydeactivated": (EventKind.DROPPED, True),  # an ESP suppression (§4.3)
    "unconfirmed": (EventKind.DROPPED, False),
    "templaterenderingfailed": (EventKind.DROPPED, False),  # caused by the sender
    "smtpapierror": (EventKind.IGNORED, False),
    "inbounderror": (EventKind.IGNORED, False),
    "spamcomplaint": (EventKind.SPAM, True),
}

SUPPRESSION_REASONS = {
    "manualsuppression": EventKind.UNSUBSCRIBED,
    "hardbounce": EventKind.HARD_BOUNCE,
    "spamcomplaint": EventKind.SPAM,
}

NO_RECIPIENT = "No recipient: the record has neither Email nor Recipient"


def parse(body: bytes) -> ParsedBatch:
    data = load_json(body)
    if not isinstance(data, dict) or not data:
        raise MalformedPayload(INVALID_PAYLOAD)
    require_shallow(data)
    record = {str(key).lower(): value for key, value in data.items()}
    if not text(record.get("recordtype")):
        raise MalformedPayload("Mandatory parameter missing: RecordType")
    try:
        event = _event(record)
    except ItemError as exc:
        return ParsedBatch(errors=[EventError(0, str(exc))], total=1, payload_format=FORMAT)
    return ParsedBatch([event], total=1, payload_format=FORMAT)


def _event(record: dict[str, Any]) -> CallbackEvent:
    record_type = text(record["recordtype"]).strip()
    address = record.get("email") or record.get("recipient")
    if address in (None, ""):
        raise ItemError(NO_RECIPIENT)
    email = clean_email(address)
    kind, suppress, description = classify(record_type.lower(), record)
    metadata = record.get("metadata")
    meta = text(metadata.get("meta")) if isinstance(metadata, dict) else ""
    return CallbackEvent(
        email=email,
        kind=kind,
        occurred_at=_time(record),
        dedupe_key=_dedupe_key(record_type.lower(), record, email),
        meta=meta,
        description=description,
        event_id=text(record.get("id")),
        esp_event=_esp_event(record_type, record),
        suppress=suppress,
    )


def classify(record_type: str, record: dict[str, Any]) -> tuple[EventKind, bool, str]:
    """(kind, makes the address Inactive, description) of one record (reference §3.4)."""
    details = text(record.get("details")).strip()
    if record_type == "bounce":
        bounce_type = text(record.get("type")).strip().lower()
        if bounce_type in BOUNCE_TYPES:
            kind, suppress = BOUNCE_TYPES[bounce_type]
        else:  # a type the table does not know: Postmark's own verdict decides
            inactive = record.get("inactive") is True
            kind, suppress = (
                (EventKind.HARD_BOUNCE if inactive else EventKind.SOFT_BOUNCE),
                inactive,
            )
        name = text(record.get("name")).strip()
        description = ": ".join(part for part in (name, details) if part)
        return kind, suppress, description or text(record.get("description")).strip()
    if record_type == "subscriptionchange":
        return _subscription_change(record)
    kind = RECORD_TYPES.get(record_type, EventKind.IGNORED)
    return kind, kind in SUPPRESSING_KINDS, details


def _subscription_change(record: dict[str, Any]) -> tuple[EventKind, bool, str]:
    reason = text(record.get("suppressionreason")).strip()
    origin = text(record.get("origin")).strip()
    if record.get("suppresssending") is not True:
        return EventKind.IGNORED, False, f"Suppression lifted ({origin or 'unknown origin'})"
    kind = SUPPRESSION_REASONS.get(reason.lower(), EventKind.UNSUBSCRIBED)
    by = f" by {origin}" if origin else ""
    return kind, True, f"Suppressed{by}: {reason or 'no reason given'}"


def _esp_event(record_type: str, record: dict[str, Any]) -> str:
    if record_type.lower() == "bounce" and text(record.get("type")):
        return f"Bounce/{text(record.get('type'))}"
    return record_type


def _time(record: dict[str, Any]) -> datetime | None:
    for key in ("bouncedat", "deliveredat", "changedat", "receivedat"):
        value = record.get(key)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value)
            except ValueError as exc:
                raise ItemError(f"Invalid timestamp in {key}") from exc
    return None


def _dedupe_key(record_type: str, record: dict[str, Any], email: str) -> str:
    """The record's identity (§3.5): a retried record meets its first copy."""
    if record_type in ("bounce", "spamcomplaint") and text(record.get("id")):
        return content_key(FORMAT, record_type, text(record.get("id")))
    if record_type == "delivery":
        return content_key(FORMAT, record_type, record.get("messageid"), email.lower())
    fields = ("messagestream", "changedat", "suppresssending", "messageid", "receivedat")
    return content_key(FORMAT, record_type, email.lower(), *(record.get(k) for k in fields))


# --- verification ------------------------------------------------------------------------


class CredentialsRefused(Exception):
    """The request does not carry the webhook login and header generated for the provider."""


def verify(expected_password: str, headers) -> None:
    """Raise `CredentialsRefused` unless both the basic-auth pair and the header match.

    Every comparison runs, in constant time, whatever fails first.
    """
    if not expected_password:
        raise CredentialsRefused("The provider has no webhook password yet")
    username, password = basic_auth(headers.get("Authorization", ""))
    header = headers.get(WEBHOOK_HEADER, "")
    checks = [
        hmac.compare_digest(username.encode(), WEBHOOK_USERNAME.encode()),
        hmac.compare_digest(password.encode(), expected_password.encode()),
        hmac.compare_digest(header.encode(), expected_password.encode()),
    ]
    if not all(checks):
        raise CredentialsRefused("Missing or wrong webhook credentials")


def basic_auth(value: str) -> tuple[str, str]:
    """The (username, password) of a Basic ``Authorization`` header; empty when absent."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password
