"""Mailgun's webhooks: the mapping, the signature, the time window and the token replay check,
through the callback view."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from callbacks.formats import MalformedPayload, formats_for, mailgun
from callbacks.models import CallbackLog, EventKind
from profiles.models import Profile
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

from .conftest import payload_json, post

SIGNING_KEY = "key-signing-0123456789abcdef"


def signed(body: dict, key: str = SIGNING_KEY, *, timestamp: int | None = None, token=None):
    """The body with a fresh, correct Mailgun signature, as bytes."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or f"tok{time.time_ns()}"
    signature = mailgun.signature_of(key, stamp, token)
    body = {**body, "signature": {"timestamp": stamp, "token": token, "signature": signature}}
    return json.dumps(body).encode()


def fixture(name: str) -> dict:
    return payload_json(f"mailgun_{name}.json")


@pytest.mark.parametrize(
    ("name", "email", "kind", "suppress"),
    [
        ("delivered", "recipient@example.com", EventKind.DELIVERED, False),
        ("failed_bounce", "invalid@example.com", EventKind.HARD_BOUNCE, True),
        ("failed_suppress_bounce", "slava@mailgun.com", EventKind.DROPPED, True),
        ("failed_delayed_bounce", "christest123@test.com", EventKind.HARD_BOUNCE, True),
        ("failed_temporary", "test@test.com", EventKind.IGNORED, False),
        ("complained", "foo@example.com", EventKind.SPAM, True),
        ("unsubscribed", "recipient@example.com", EventKind.UNSUBSCRIBED, True),
    ],
)
def test_reference_payloads_map_as_the_reference_decides(name, email, kind, suppress):
    [event] = mailgun.FORMAT.parse(json.dumps(fixture(name)).encode())

    assert (event.email, event.kind, event.suppress) == (email, kind, suppress)
    assert event.esp_event == fixture(name)["event-data"]["event"]


def failed(severity="permanent", reason="generic", **status):
    return {
        "event": "failed",
        "severity": severity,
        "reason": reason,
        "id": "abc",
        "timestamp": 1700000000.5,
        "recipient": "ada@example.com",
        "delivery-status": status,
    }


@pytest.mark.parametrize(
    ("item", "kind", "suppress"),
    [
        (failed(reason="old"), EventKind.SOFT_BOUNCE, False),
        (failed(reason="espblock"), EventKind.SOFT_BOUNCE, False),
        (failed(reason="suppress-unsubscribe", code=606), EventKind.DROPPED, True),
        (failed(reason="suppress-complaint", code=607), EventKind.DROPPED, True),
        (failed(reason="generic"), EventKind.SOFT_BOUNCE, False),  # unclassified ⇒ soft
        (failed(reason="bounce"), EventKind.HARD_BOUNCE, True),  # no code ⇒ hard for bounce
        (
            failed(reason="bounce", code=552, **{"enhanced-code": "5.2.2"}),
            EventKind.SOFT_BOUNCE,
            False,
        ),
        (
            failed(reason="bounce", code=550, **{"enhanced-code": "5.7.1"}),
            EventKind.SOFT_BOUNCE,
            False,
        ),
        (failed(reason="generic", code=554), EventKind.HARD_BOUNCE, True),
        (failed(reason="bounce", code=452), EventKind.SOFT_BOUNCE, False),
        (failed(severity="temporary", reason="greylisted", code=450), EventKind.IGNORED, False),
        (
            {"event": "rejected", "message": {"headers": {"to": "ada@example.com"}}},
            EventKind.DROPPED,
            False,
        ),
        ({"event": "opened", "recipient": "ada@example.com"}, EventKind.IGNORED, False),
        ({"event": "something-new", "recipient": "ada@example.com"}, EventKind.IGNORED, False),
    ],
)
def test_failures_by_severity_reason_and_code(item, kind, suppress):
    event = mailgun.event_from(item)

    assert (event.email, event.kind, event.suppress) == ("ada@example.com", kind, suppress)


def test_the_meta_comes_back_from_the_v_variable():
    item = {**failed(), "user-variables": {"postdesk_meta": "ada@example.com|s1|"}}

    assert mailgun.event_from(item).meta == "ada@example.com|s1|"


def test_dedupe_is_on_id_and_timestamp():
    same = mailgun.event_from(failed()).dedupe_key
    other_day = mailgun.event_from({**failed(), "timestamp": 1700090000.5}).dedupe_key

    assert mailgun.event_from(failed()).dedupe_key == same
    assert other_day != same


@pytest.mark.parametrize("body", [b"{oops", b"[]", b'{"signature": {}}', b'{"event-data": []}'])
def test_bodies_of_the_wrong_shape_are_malformed(body):
    with pytest.raises(MalformedPayload):
        mailgun.FORMAT.parse(body)


def test_an_event_without_recipient_is_an_error_for_that_event():
    batch = mailgun.FORMAT.parse(json.dumps({"event-data": {"event": "delivered"}}).encode())

    assert (list(batch), batch.total, len(batch.errors)) == ([], 1, 1)


# --- verification -----------------------------------------------------------------------------
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def signature(key=SIGNING_KEY, at=NOW, token="tok-1"):
    stamp = str(int(at.timestamp()))
    return {
        "timestamp": stamp,
        "token": token,
        "signature": mailgun.signature_of(key, stamp, token),
    }


def test_signature_is_hmac_sha256_of_timestamp_and_token():
    expected = hmac.new(b"key", b"1534108637tok", hashlib.sha256).hexdigest()

    assert mailgun.signature_of("key", "1534108637", "tok") == expected
    token, signed_at = mailgun.verify_signature(SIGNING_KEY, signature(), NOW)
    assert (token, signed_at) == ("tok-1", NOW)


@pytest.mark.parametrize(
    "bad",
    [
        signature(key="another-key"),
        {**signature(), "token": "tok-2"},  # the token edited after signing
        {**signature(), "signature": ""},
        {**signature(), "signature": "é" * 64},
        signature(at=NOW - timedelta(hours=25)),  # outside the window
        signature(at=NOW + timedelta(minutes=10)),  # from the future
    ],
)
def test_forged_or_stale_signatures_are_refused(bad):
    with pytest.raises(mailgun.MailgunSignatureError):
        mailgun.verify_signature(SIGNING_KEY, bad, NOW)


def test_a_signature_8_hours_old_is_accepted_for_mailguns_retries():
    mailgun.verify_signature(SIGNING_KEY, signature(at=NOW - timedelta(hours=8)), NOW)


def test_without_a_signing_key_nothing_verifies():
    with pytest.raises(mailgun.MailgunSignatureError):
        mailgun.verify_signature("", signature(key=""), NOW)


# --- through the callback view ----------------------------------------------------------------
@pytest.fixture
def provider(db):
    provider = EmailProviderFactory(
        kind=EmailProvider.Kind.MAILGUN, host="", port=None, scheme="", username=""
    )
    provider.set_webhook_secret(SIGNING_KEY)
    provider.save()
    return provider


@pytest.mark.django_db
def test_a_signed_bounce_makes_the_address_inactive(client, provider):
    response = post(client, provider, signed(fixture("failed_bounce")))

    assert (response.status_code, response.json()["status"]) == (200, "success")
    profile = Profile.objects.get(email="invalid@example.com")
    assert profile.status == Profile.Status.INACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        signed(payload_json("mailgun_complained.json"), key="wrong-key"),
        signed(payload_json("mailgun_complained.json"), timestamp=int(time.time()) - 2 * 86400),
        json.dumps(payload_json("mailgun_complained.json")).encode(),  # the fixture's "…"
        json.dumps(payload_json("mailgun_complained.json")["event-data"]).encode(),
        b"event=bounced&recipient=ada%40example.com",  # legacy form webhooks are refused
    ],
)
def test_forged_stale_or_unsigned_requests_are_refused_with_406(client, provider, body):
    response = post(client, provider, body)

    assert response.status_code == 406  # Mailgun does not retry a 406
    assert not Profile.objects.filter(email="foo@example.com").exists()
    assert CallbackLog.objects.get().status_code == 406


@pytest.mark.django_db
def test_a_replayed_token_is_refused_even_with_an_edited_body(client, provider):
    body = signed(fixture("delivered"), token="replayed-token")
    first = post(client, provider, body)
    edited = json.loads(body)
    edited["event-data"] = fixture("complained")["event-data"]
    replay = post(client, provider, json.dumps(edited).encode())

    assert (first.status_code, replay.status_code) == (200, 406)
    assert not Profile.objects.filter(email="foo@example.com").exists()


@pytest.mark.django_db
def test_a_retry_with_a_new_token_is_deduplicated_on_the_event_id(client, provider):
    post(client, provider, signed(fixture("complained")))
    post(client, provider, signed(fixture("complained")))

    assert list(CallbackLog.objects.order_by("pk").values_list("status_code", "duplicates")) == [
        (200, 0),
        (200, 1),
    ]


@pytest.mark.django_db
def test_the_sample_is_signed_with_the_providers_key(provider):
    body = json.loads(formats_for(provider).sample_format.sample_for(provider))

    token, _ = mailgun.verify_signature(SIGNING_KEY, body["signature"])
    assert token
    [event] = mailgun.FORMAT.parse(json.dumps(body).encode())
    assert event.kind == EventKind.HARD_BOUNCE
