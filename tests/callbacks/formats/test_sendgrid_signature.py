"""SendGrid's signed Event Webhook: our verifier and the endpoint that uses it."""

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from callbacks.formats import sendgrid as signatures
from callbacks.models import CallbackLog
from profiles.models import Profile
from providers.models import EmailProvider

from ..conftest import payload, post

# SendGrid's published SDK test vector (sendgrid-python/-go/-java/-nodejs event-webhook tests).
SDK_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7"
    "yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
)
SDK_SIGNATURE = (
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2"
    "C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
)
SDK_TIMESTAMP = "1588788367"
SDK_PAYLOAD = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'


def new_key():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def sign(private, timestamp: str, body: bytes) -> str:
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


def test_sendgrid_sdk_test_vector_verifies():
    signatures.verify_signature(SDK_PUBLIC_KEY, SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP)


@pytest.mark.parametrize(
    ("body", "timestamp"),
    [
        (SDK_PAYLOAD, "1588788368"),
        (SDK_PAYLOAD.replace(b",", b", "), SDK_TIMESTAMP),  # re-serialised JSON
        (SDK_PAYLOAD + b"\n", SDK_TIMESTAMP),
    ],
)
def test_sdk_vector_fails_when_anything_changes(body, timestamp):
    with pytest.raises(signatures.SignatureError):
        signatures.verify_signature(SDK_PUBLIC_KEY, body, SDK_SIGNATURE, timestamp)


def test_another_key_does_not_verify_the_sdk_vector():
    _private, other = new_key()
    with pytest.raises(signatures.SignatureError):
        signatures.verify_signature(other, SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP)


def test_pem_armoured_key_is_accepted():
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        f"{SDK_PUBLIC_KEY[:64]}\n{SDK_PUBLIC_KEY[64:]}\n"
        "-----END PUBLIC KEY-----\n"
    )
    signatures.verify_signature(pem, SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP)


@pytest.mark.parametrize("key", ["", "not base64 at all!", base64.b64encode(b"junk").decode()])
def test_an_unusable_key_is_an_invalid_key(key):
    with pytest.raises(signatures.InvalidKey):
        signatures.verify_signature(key, SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP)


def test_timestamp_window():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    ts = lambda delta: str(int((now + delta).timestamp()))  # noqa: E731
    signatures.check_timestamp(ts(timedelta(0)), now)
    signatures.check_timestamp(ts(-timedelta(hours=24)), now)  # a retry a day later
    for bad in (ts(-timedelta(hours=26)), ts(timedelta(minutes=10)), "soon", ""):
        with pytest.raises(signatures.SignatureError):
            signatures.check_timestamp(bad, now)


# --- through the endpoint ---------------------------------------------------------------------


@pytest.fixture
def signed_provider(make_provider):
    private, public = new_key()
    provider = make_provider(EmailProvider.Kind.SENDGRID, webhook_verification_key=public)
    return provider, private


def headers(signature: str, timestamp: str) -> dict:
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": signature,
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
    }


@pytest.mark.django_db
def test_signed_request_is_accepted(client, signed_provider):
    provider, private = signed_provider
    body = payload("sendgrid_events.json")
    timestamp = str(int(time.time()))
    response = post(client, provider, body, **headers(sign(private, timestamp, body), timestamp))
    assert response.status_code == 200
    assert (
        Profile.objects.filter(status=Profile.Status.INACTIVE).count() == 6
    )  # as in test_sendgrid_payload


@pytest.mark.django_db
@pytest.mark.parametrize("forgery", ["other_key", "tampered_body", "no_headers", "old", "garbage"])
def test_forged_requests_are_refused_and_apply_nothing(client, signed_provider, forgery):
    provider, private = signed_provider
    body = payload("sendgrid_events.json")
    timestamp = str(int(time.time()))
    signer = private
    sent_body = body
    if forgery == "other_key":
        signer, _ = new_key()
    if forgery == "tampered_body":
        sent_body = body.replace(b'"bounce"', b'"delivered"')
    if forgery == "old":
        timestamp = str(int(time.time()) - 3 * 24 * 3600)
    extra = headers(sign(signer, timestamp, body), timestamp)
    if forgery == "no_headers":
        extra = {}
    if forgery == "garbage":
        extra = headers("%%%not-base64%%%", timestamp)
    response = post(client, provider, sent_body, **extra)
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid signature", "error_code": 403}
    assert not Profile.objects.exists()
    assert CallbackLog.objects.get().status_code == 403


@pytest.mark.django_db
def test_without_a_key_sendgrid_posts_are_not_checked(client, make_provider):
    provider = make_provider(EmailProvider.Kind.SENDGRID)
    assert post(client, provider, payload("sendgrid_events.json")).status_code == 200
