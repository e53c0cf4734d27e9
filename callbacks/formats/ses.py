"""Amazon SES events through SNS (reference part 2, §1.2–1.6, decisions §4).

The body is one SNS envelope (JSON sent as ``text/plain``). A ``Notification``'s ``Message`` is
a JSON string holding one SES record: classic identity notifications (``notificationType``) and
configuration-set event publishing (``eventType``) are both accepted. One record yields one
event per affected recipient. De-duplication: the SNS ``MessageId`` (reused on retries) with
the recipient and its place in the record. Meta: the ``X-Postdesk-Meta`` header from
``mail.headers``.

`Ses.verify` checks the SNS signature (versions 1 and 2) against a certificate
fetched from an allow-listed host (``SNS_CERT_HOSTS``) and cached, before anything is stored.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

from callbacks.models import EventKind

from .base import (
    INVALID_PAYLOAD,
    SAMPLE_EMAIL,
    SUPPRESSING_KINDS,
    CallbackEvent,
    Format,
    MalformedPayload,
    SignatureError,
    clean_email,
    content_key,
    load_json,
    text,
)

META_HEADER = "x-postdesk-meta"

# --- SNS verification ---------------------------------------------------------------------------
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_KEYS["UnsubscribeConfirmation"] = SIGNED_KEYS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsRefused(SignatureError):
    """The request is not a verified SNS message for us; the message says why (403)."""


def string_to_sign(envelope: dict[str, Any]) -> bytes:
    """``key\\nvalue\\n`` for each signed key present, in SNS's order."""
    keys = SIGNED_KEYS.get(envelope.get("Type"), ())
    return "".join(
        f"{key}\n{envelope[key]}\n" for key in keys if isinstance(envelope.get(key), str)
    ).encode()


def allowed_sns_url(url: str, *, pem: bool) -> bool:
    """An https URL on an allow-listed SNS host (for the certificate: a path ending .pem)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme != "https" or (pem and not parts.path.endswith(".pem")):
        return False
    host = parts.hostname or ""
    return any(re.fullmatch(pattern, host) for pattern in settings.SNS_CERT_HOSTS)


@functools.lru_cache(maxsize=32)
def signing_key(cert_url: str) -> rsa.RSAPublicKey:
    """The public key of SNS's signing certificate, fetched once per URL."""
    response = httpx.get(cert_url, timeout=10, verify=sns_ssl_context(), follow_redirects=False)
    response.raise_for_status()
    key = x509.load_pem_x509_certificate(response.content).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRefused("The signing certificate does not hold an RSA key.")
    return key


def sns_ssl_context():
    """TLS trust for SNS hosts; SMTP_CA_FILE adds a CA (tests, private CAs)."""
    from providers.adapters.base import ssl_context

    return ssl_context()


def verify_envelope(envelope: Any) -> dict[str, Any]:
    """Check the SNS signature; return the envelope, or raise `SnsRefused`."""
    if not isinstance(envelope, dict) or envelope.get("Type") not in SIGNED_KEYS:
        raise SnsRefused("Not an SNS message.")
    algorithm = HASHES.get(envelope.get("SignatureVersion"))
    if algorithm is None:
        raise SnsRefused("Unknown SNS signature version.")
    cert_url = envelope.get("SigningCertURL")
    if not allowed_sns_url(cert_url, pem=True):
        raise SnsRefused("The signing certificate is not on an allowed SNS host.")
    try:
        signature = base64.b64decode(envelope.get("Signature") or "", validate=True)
        key = signing_key(cert_url)
        key.verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm())
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise SnsRefused("The SNS signature does not verify.") from exc
    except httpx.HTTPError as exc:
        raise SnsRefused(f"The signing certificate could not be fetched ({exc}).") from exc
    return envelope


def verify(body: bytes, headers) -> dict[str, Any]:
    """Verify a request's SNS envelope, its headers agreeing with the body."""
    try:
        envelope = load_json(body)
    except MalformedPayload as exc:
        raise SnsRefused("The body is not an SNS message.") from exc
    verify_envelope(envelope)
    for header, key in (("x-amz-sns-message-type", "Type"), ("x-amz-sns-message-id", "MessageId")):
        value = headers.get(header)
        if value is not None and value != envelope.get(key):
            raise SnsRefused(f"The {header} header disagrees with the body.")
    return envelope


def confirm_subscription(envelope: dict[str, Any]) -> None:
    """Fetch a verified confirmation's ``SubscribeURL`` (its host must be an SNS host)."""
    url = envelope.get("SubscribeURL")
    if not allowed_sns_url(url, pem=False):
        raise SnsRefused("The SubscribeURL is not on an allowed SNS host.")
    httpx.get(url, timeout=10, verify=sns_ssl_context(), follow_redirects=False).raise_for_status()


def accept_sns(provider, body: bytes, headers) -> None:
    """Verify an SNS request for `provider` before anything is stored; `SnsRefused` if not.

    A verified SubscriptionConfirmation is confirmed (its topic becomes the provider's, the
    first time); once the provider has a topic, other topics are refused.
    """
    envelope = verify(body, headers)
    topic = envelope.get("TopicArn")
    if provider.sns_topic_arn and topic != provider.sns_topic_arn:
        raise SnsRefused("The message comes from another SNS topic than this provider's.")
    if envelope["Type"] == "SubscriptionConfirmation":
        try:
            confirm_subscription(envelope)
        except httpx.HTTPError as exc:
            raise SnsRefused(f"Confirming the subscription failed ({exc}).") from exc
        if not provider.sns_topic_arn and isinstance(topic, str):
            provider.sns_topic_arn = topic
            provider.save(update_fields=["sns_topic_arn"])


# --- SES records → events ----------------------------------------------------------------------
SOFT_PERMANENT_STATUSES = ("5.4.4", "5.1.2")  # Transient with these is a hard bounce (§1.5)
SENDER_CAUSED_SUBTYPES = ("MessageTooLarge", "ContentRejected", "AttachmentRejected")
DROPPED_SUBTYPES = ("Suppressed", "OnAccountSuppressionList")
IGNORED_TYPES = ("DeliveryDelay", "Send", "Open", "Click")


class Ses(Format):
    """One SNS envelope → one event per recipient of the SES record it carries."""

    name = "ses"
    kinds = {
        "Bounce": EventKind.HARD_BOUNCE,  # refined by bounce type and sub-type (§1.5)
        "Complaint": EventKind.SPAM,  # refined by sub-type and feedback type
        "Delivery": EventKind.DELIVERED,
        "Reject": EventKind.DROPPED,
        "Rendering Failure": EventKind.DROPPED,
        "Subscription": EventKind.UNSUBSCRIBED,  # when it opts out
    }

    def verify(self, provider, body: bytes, headers) -> None:
        accept_sns(provider, body, headers)

    def items(self, envelope: Any) -> list:
        """(SNS id, record, recipient, kind, description, suppress) per affected recipient;
        none for a confirmation or a Notification that holds no SES record."""
        if not isinstance(envelope, dict) or envelope.get("Type") not in SIGNED_KEYS:
            raise MalformedPayload(INVALID_PAYLOAD)
        if envelope["Type"] != "Notification":
            return []
        try:
            record = json.loads(envelope.get("Message") or "")
        except (TypeError, ValueError, RecursionError):
            return []  # "Successfully validated SNS topic for Amazon SES event publishing."
        if not isinstance(record, dict):
            return []
        sns_id = text(envelope.get("MessageId"))
        return [(sns_id, n, record, *found) for n, found in enumerate(classify(record))]

    def event(self, item: tuple) -> CallbackEvent:
        sns_id, position, record, recipient, kind, description, suppress = item
        email = clean_email(recipient)
        mail = record.get("mail") if isinstance(record.get("mail"), dict) else {}
        return CallbackEvent(
            email=email,
            kind=kind,
            occurred_at=None,
            dedupe_key=content_key(self.name, sns_id, email.lower(), position),
            meta=meta_of(mail),
            description=description,
            event_id=sns_id,
            esp_event=text(record.get("eventType") or record.get("notificationType")),
            suppress=suppress,
        )

    def sample_data(self) -> dict:
        """An SNS Notification carrying an event-publishing Bounce listing the sample address
        twice (one SNS message, several recipients); unsigned, as samples skip verification."""
        recipients = [SAMPLE_EMAIL, SAMPLE_EMAIL]
        record = {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": address, "status": "5.1.1", "diagnosticCode": "Sample"}
                    for address in recipients
                ],
                "feedbackId": uuid.uuid4().hex,
            },
            "mail": {"messageId": uuid.uuid4().hex, "destination": recipients},
        }
        return {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:postdesk-sample",
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(record),
            "Timestamp": "2026-01-01T00:00:00.000Z",
        }


def meta_of(mail: dict[str, Any]) -> str:
    for header in mail.get("headers") or ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() == META_HEADER:
            return text(header.get("value"))
    return ""


def classify(record: dict[str, Any]) -> list[tuple[Any, EventKind, str, bool]]:
    """(recipient, kind, description, suppress) for each recipient the record affects."""
    kind_name = record.get("eventType") or record.get("notificationType")
    mail = record.get("mail") if isinstance(record.get("mail"), dict) else {}
    destination = mail.get("destination") or []
    if kind_name == "Bounce":
        return _bounces(record.get("bounce") or {})
    if kind_name == "Complaint":
        return _complaints(record.get("complaint") or {})
    if kind_name == "Delivery":
        recipients = (record.get("delivery") or {}).get("recipients") or destination
        return [(r, EventKind.DELIVERED, "Delivered", False) for r in recipients]
    if kind_name == "Reject":
        reason = text((record.get("reject") or {}).get("reason"))
        return [(r, EventKind.DROPPED, f"Reject: {reason}", False) for r in destination]
    if kind_name == "Rendering Failure":
        return [(r, EventKind.DROPPED, "Rendering Failure", False) for r in destination]
    if kind_name == "Subscription":
        return _subscription(record.get("subscription") or {}, destination)
    return [(r, EventKind.IGNORED, text(kind_name), False) for r in destination]


def _bounces(bounce: dict[str, Any]) -> list:
    bounce_type = text(bounce.get("bounceType"))
    sub_type = text(bounce.get("bounceSubType"))
    found = []
    for item in bounce.get("bouncedRecipients") or ():
        item = item if isinstance(item, dict) else {}
        status = text(item.get("status"))
        description = " ".join(
            part
            for part in (f"{bounce_type}/{sub_type}", status, text(item.get("diagnosticCode")))
            if part
        )
        kind, suppress = bounce_kind(bounce_type, sub_type, status)
        found.append((item.get("emailAddress"), kind, description, suppress))
    return found


def bounce_kind(bounce_type: str, sub_type: str, status: str) -> tuple[EventKind, bool]:
    """The kind of one bounced recipient, and whether it makes the address Inactive (§1.5)."""
    if bounce_type == "Permanent":
        if sub_type in DROPPED_SUBTYPES:
            return EventKind.DROPPED, True
        return EventKind.HARD_BOUNCE, True
    if bounce_type == "Transient" and sub_type == "General" and status in SOFT_PERMANENT_STATUSES:
        return EventKind.HARD_BOUNCE, True
    return EventKind.SOFT_BOUNCE, False  # Transient, Undetermined, sender-caused sub-types


def _complaints(complaint: dict[str, Any]) -> list:
    recipients = [
        item.get("emailAddress") if isinstance(item, dict) else item
        for item in complaint.get("complainedRecipients") or ()
    ]
    if complaint.get("complaintSubType") == "OnAccountSuppressionList":
        return [
            (r, EventKind.DROPPED, "Complaint: OnAccountSuppressionList", True) for r in recipients
        ]
    feedback = text(complaint.get("complaintFeedbackType"))
    if feedback == "not-spam":
        return [(r, EventKind.IGNORED, "Complaint: not-spam", False) for r in recipients]
    return [(r, EventKind.SPAM, f"Complaint: {feedback or 'spam'}", True) for r in recipients]


def _subscription(subscription: dict[str, Any], destination: list) -> list:
    preferences = subscription.get("newTopicPreferences") or {}
    topics = preferences.get("topicSubscriptionStatus") or []
    opted_out = preferences.get("unsubscribeAll") is True or any(
        isinstance(t, dict) and t.get("subscriptionStatus") == "OptOut" for t in topics
    )
    kind = EventKind.UNSUBSCRIBED if opted_out else EventKind.IGNORED
    return [(r, kind, "Subscription", kind in SUPPRESSING_KINDS) for r in destination]


FORMAT = Ses()
