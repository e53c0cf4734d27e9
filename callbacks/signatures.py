"""SendGrid's signed Event Webhook (reference §1.6).

SendGrid signs the bytes of the ``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by
the raw body with ECDSA P-256 / SHA-256, and sends the base64 DER signature in
``X-Twilio-Email-Event-Webhook-Signature``. The verification key the user pastes is the base64
of a DER SubjectPublicKeyInfo (we also accept it PEM-armoured). The body must be verified as
received: re-serialised JSON does not verify.

SendGrid documents no replay window and may retry for 24 hours, so the timestamp window is wide
(`MAX_AGE`) and replays inside it are harmless: events are de-duplicated on ``sg_event_id``.
"""

import base64
import binascii
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from providers.forms.sendgrid import load_verification_key

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

MAX_AGE = timedelta(hours=25)  # SendGrid retries for up to 24 h (§1.7)
MAX_SKEW = timedelta(minutes=5)  # clocks disagree a little; a signature from the future, not much


class SignatureError(Exception):
    """The request is not signed by the key the user configured."""


class InvalidKey(SignatureError):
    """The configured verification key cannot be loaded (a setup problem on our side)."""


def load_public_key(key_text: str) -> ec.EllipticCurvePublicKey:
    key = load_verification_key(key_text)
    if key is None:
        raise InvalidKey("The verification key is not a base64 DER elliptic-curve public key")
    return key


def verify_signature(key_text: str, body: bytes, signature: str, timestamp: str) -> None:
    """Raise `SignatureError` unless `signature` signs timestamp + body with the key."""
    key = load_public_key(key_text)
    if not signature or not timestamp:
        raise SignatureError("Missing signature headers")
    try:
        der_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureError("The signature is not base64") from exc
    try:
        key.verify(der_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("The signature does not match") from exc


def check_timestamp(timestamp: str, now: datetime | None = None) -> None:
    """Refuse signed requests older than `MAX_AGE` or too far in the future."""
    now = now or datetime.now(UTC)
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise SignatureError("The signature timestamp is not a Unix time") from exc
    if signed_at < now - MAX_AGE or signed_at > now + MAX_SKEW:
        raise SignatureError("The signature timestamp is outside the accepted window")


def verify_request(key_text: str, body: bytes, headers, now: datetime | None = None) -> None:
    """Verify a SendGrid request: signature over the raw body, then the timestamp window."""
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    verify_signature(key_text, body, signature, timestamp)
    check_timestamp(timestamp, now)
