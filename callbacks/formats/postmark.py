"""Postmark's webhooks (reference part 2, §3.2–3.5 and §4).

One JSON object per request (an array of them is read too, as the sample is), with
``RecordType`` ∈ Bounce, SpamComplaint, Delivery, Open, Click, SubscriptionChange. Keys are
read case-insensitively (``ServerID`` and ``ServerId`` both occur). Our meta comes back in
``Metadata.meta``. Times are ISO 8601 with an offset.

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
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callbacks.models import EventKind
from providers.forms.postmark import WEBHOOK_HEADER, WEBHOOK_USERNAME

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
    text,
)

FORMAT_NAME = "postmark"

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

NO_RECIPIENT = "Mandatory parameter missing: email"  # neither Email nor Recipient


class Postmark(Format):
    name = FORMAT_NAME
    kinds = {
        **RECORD_TYPES,
        "bounce": EventKind.HARD_BOUNCE,  # refined by `Type` (`BOUNCE_TYPES`)
        "subscriptionchange": EventKind.UNSUBSCRIBED,  # refined by `SuppressionReason`
    }

    def items(self, data: Any) -> list:
        if isinstance(data, dict):
            if not any(str(key).lower() == "recordtype" for key in data):
                raise MalformedPayload("Mandatory parameter missing: RecordType")
            return [data]
        return super().items(data)

    def verify(self, provider, body: bytes, headers: Mapping[str, str]) -> None:
        """Refuse a request without the login and header generated for the provider."""
        verify(provider.webhook_secret, headers)

    def event(self, item: Any) -> CallbackEvent:
        if not isinstance(item, dict):
            raise ItemError(INVALID_PAYLOAD)
        record = {str(key).lower(): value for key, value in item.items()}
        record_type = text(record.get("recordtype")).strip()
        if not record_type:
            raise ItemError("Mandatory parameter missing: RecordType")
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

    def sample_data(self) -> list:
        """Two records as Postmark posts them (one per request): a delivery, a hard bounce."""
        message_id = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        metadata = {"meta": f"{SAMPLE_EMAIL}|sample|"}
        delivery = {
            "RecordType": "Delivery",
            "MessageID": message_id,
            "MessageStream": "outbound",
            "Recipient": SAMPLE_EMAIL,
            "DeliveredAt": now,
            "Details": "Sample: 250 OK",
            "Metadata": metadata,
        }
        bounce = {
            "RecordType": "Bounce",
            "ID": uuid.uuid4().int % 10**12,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Name": "Hard bounce",
            "MessageID": message_id,
            "MessageStream": "outbound",
            "Description": "Sample: the server was unable to deliver your message.",
            "Details": "Sample: smtp;550 5.1.1 The email account does not exist.",
            "Email": SAMPLE_EMAIL,
            "BouncedAt": now,
            "Inactive": True,
            "Metadata": metadata,
        }
        return [delivery, bounce]


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
        return content_key(FORMAT_NAME, record_type, text(record.get("id")))
    if record_type == "delivery":
        return content_key(FORMAT_NAME, record_type, record.get("messageid"), email.lower())
    fields = ("messagestream", "changedat", "suppresssending", "messageid", "receivedat")
    return content_key(FORMAT_NAME, record_type, email.lower(), *(record.get(k) for k in fields))


# --- verification ------------------------------------------------------------------------


def verify(expected_password: str, headers) -> None:
    """Raise `SignatureError` (a 403) unless both the basic-auth pair and the header match.

    Every comparison runs, in constant time, whatever fails first.
    """
    if not expected_password:
        raise SignatureError("The provider has no webhook password yet")
    username, password = basic_auth(headers.get("Authorization", ""))
    header = headers.get(WEBHOOK_HEADER, "")
    checks = [
        hmac.compare_digest(username.encode(), WEBHOOK_USERNAME.encode()),
        hmac.compare_digest(password.encode(), expected_password.encode()),
        hmac.compare_digest(header.encode(), expected_password.encode()),
    ]
    if not all(checks):
        raise SignatureError("Missing or wrong webhook credentials")


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


FORMAT = Postmark()
