"""Postmark's webhook records: the reference's payloads, the type table, the credentials."""

import base64
import json

import pytest

from callbacks.formats import MalformedPayload, SignatureError
from callbacks.formats.postmark import FORMAT, NO_RECIPIENT, basic_auth, verify
from callbacks.models import EventKind

from .conftest import payload, payload_json

PASSWORD = "generated-webhook-password"


def one(name: str):
    batch = FORMAT.parse(payload(name))
    assert batch.errors == []
    [event] = batch
    return event


@pytest.mark.parametrize(
    ("name", "email", "kind", "suppress"),
    [
        ("postmark_bounce_hard.json", "bounce@example.com", EventKind.HARD_BOUNCE, True),
        ("postmark_bounce_soft.json", "bounce@example.com", EventKind.SOFT_BOUNCE, False),
        ("postmark_spam_complaint.json", "john@example.com", EventKind.SPAM, True),
        ("postmark_delivery.json", "recipient@example.com", EventKind.DELIVERED, False),
        (
            "postmark_subscription_change.json",
            "bounced-address@wildbit.com",
            EventKind.HARD_BOUNCE,
            True,
        ),
        (
            "postmark_subscription_unsubscribe.json",
            "unsubscriber@example.com",
            EventKind.UNSUBSCRIBED,
            True,
        ),
        # Suppression lifted: recorded, but Postdesk never reactivates a profile by itself.
        (
            "postmark_subscription_reactivated.json",
            "bounced-address@wildbit.com",
            EventKind.IGNORED,
            False,
        ),
    ],
)
def test_the_references_payloads(name, email, kind, suppress):
    event = one(name)
    assert (event.email, event.kind, event.suppress) == (email, kind, suppress)
    assert event.occurred_at is not None and event.occurred_at.tzinfo is not None


def test_the_hard_bounce_keeps_its_details_and_id():
    event = one("postmark_bounce_hard.json")
    assert event.event_id == "901542550"
    assert event.esp_event == "Bounce/HardBounce"
    assert "550 5.1.1" in event.description


def test_a_spam_complaint_switches_on_record_type_not_type_code():
    # TypeCode 512 is SpamNotification in the type table; the record is a complaint.
    assert one("postmark_spam_complaint.json").kind == EventKind.SPAM


@pytest.mark.parametrize(
    ("bounce_type", "inactive", "kind", "suppress"),
    [
        ("HardBounce", True, EventKind.HARD_BOUNCE, True),
        ("BadEmailAddress", True, EventKind.INVALID, True),
        ("SoftBounce", False, EventKind.SOFT_BOUNCE, False),
        ("Transient", False, EventKind.IGNORED, False),
        ("DnsError", False, EventKind.SOFT_BOUNCE, False),
        ("Unknown", False, EventKind.SOFT_BOUNCE, False),
        ("SpamNotification", False, EventKind.SOFT_BOUNCE, False),
        ("VirusNotification", False, EventKind.SOFT_BOUNCE, False),
        ("Blocked", False, EventKind.SOFT_BOUNCE, False),
        ("DMARCPolicy", False, EventKind.SOFT_BOUNCE, False),
        ("AutoResponder", False, EventKind.IGNORED, False),
        ("AddressChange", False, EventKind.IGNORED, False),
        ("ChallengeVerification", False, EventKind.IGNORED, False),
        ("OpenRelayTest", False, EventKind.IGNORED, False),
        ("Subscribe", False, EventKind.IGNORED, False),
        ("Unsubscribe", True, EventKind.UNSUBSCRIBED, True),
        ("ManuallyDeactivated", True, EventKind.DROPPED, True),
        ("Unconfirmed", False, EventKind.DROPPED, False),
        ("TemplateRenderingFailed", False, EventKind.DROPPED, False),
        ("SMTPApiError", False, EventKind.IGNORED, False),
        ("InboundError", False, EventKind.IGNORED, False),
        ("SomethingNew", True, EventKind.HARD_BOUNCE, True),  # other: Postmark's Inactive
        ("SomethingNew", False, EventKind.SOFT_BOUNCE, False),
    ],
)
def test_bounce_types_map_as_the_reference_decides(bounce_type, inactive, kind, suppress):
    record = payload_json("postmark_bounce_hard.json") | {"Type": bounce_type, "Inactive": inactive}
    [event] = FORMAT.parse(json.dumps(record).encode())
    assert (event.kind, event.suppress) == (kind, suppress)


def test_keys_are_read_case_insensitively_and_metadata_carries_our_meta():
    record = {
        "recordtype": "Delivery",
        "RECIPIENT": "ada@example.org",
        "MessageId": "m-1",
        "metadata": {"meta": "ada@example.org|7|3"},
    }
    [event] = FORMAT.parse(json.dumps(record).encode())
    assert (event.email, event.kind, event.meta) == (
        "ada@example.org",
        EventKind.DELIVERED,
        "ada@example.org|7|3",
    )  # noqa: E501


def test_dedupe_keys_are_each_records_identity():
    hard = one("postmark_bounce_hard.json")
    retried = payload_json("postmark_bounce_hard.json") | {"Details": "changed"}
    [retry] = FORMAT.parse(json.dumps(retried).encode())
    assert retry.dedupe_key == hard.dedupe_key  # the same ID
    keys = {
        one(name).dedupe_key
        for name in (
            "postmark_bounce_hard.json",
            "postmark_bounce_soft.json",
            "postmark_delivery.json",
            "postmark_subscription_change.json",
            "postmark_subscription_reactivated.json",
        )
    }
    assert len(keys) == 5


def test_a_record_without_a_recipient_is_reported_not_refused():
    batch = FORMAT.parse(payload("postmark_bounce_unsubscribe.json"))
    assert list(batch) == []
    assert [e.error for e in batch.errors] == [NO_RECIPIENT]


@pytest.mark.parametrize("body", [b"{}", b"not json", b'{"Email": "a@b.example"}'])
def test_bodies_that_are_not_a_record_are_malformed(body):
    with pytest.raises(MalformedPayload):
        FORMAT.parse(body)


def auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_verify_accepts_the_generated_login_and_header():
    verify(
        PASSWORD,
        {"Authorization": auth("postdesk", PASSWORD), "X-Postdesk-Webhook-Secret": PASSWORD},
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": auth("postdesk", PASSWORD)},  # no header
        {"X-Postdesk-Webhook-Secret": PASSWORD},  # no login
        {"Authorization": auth("postdesk", "forged"), "X-Postdesk-Webhook-Secret": PASSWORD},
        {"Authorization": auth("someone", PASSWORD), "X-Postdesk-Webhook-Secret": PASSWORD},
        {"Authorization": auth("postdesk", PASSWORD), "X-Postdesk-Webhook-Secret": "forged"},
        {"Authorization": "Bearer " + PASSWORD, "X-Postdesk-Webhook-Secret": PASSWORD},
    ],
)
def test_verify_refuses_missing_or_forged_credentials(headers):
    with pytest.raises(SignatureError):
        verify(PASSWORD, headers)


def test_verify_refuses_everything_when_no_password_was_generated():
    with pytest.raises(SignatureError):
        verify("", {"Authorization": auth("postdesk", ""), "X-Postdesk-Webhook-Secret": ""})


@pytest.mark.parametrize(
    "value", ["", "Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff").decode()]
)  # noqa: E501
def test_unreadable_authorization_headers_read_as_empty(value):
    assert basic_auth(value) == ("", "")
