"""Fuzzing the public callback endpoint, through Django's test client, for every format.

Whatever arrives — any JSON tree, any bytes, events with the right keys but the wrong types,
huge numbers, NaN and Infinity, deep nesting, odd Unicode — the answer is one of seed 003's
documented responses (200 success / partial success, 400, 403 for a bad SendGrid signature,
413 too large) with its documented body, never a 500, and profiles, timelines, stats and
dedupe keys change only when the answer says events were processed.

tests/callbacks/test_hostile_bodies.py already calls the parsers directly with loose JSON and
posts a fixed list of nasty bodies; this file drives the whole endpoint and checks the body
shape and the database too.
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from callbacks import inbox
from callbacks.formats.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from callbacks.models import CallbackLog, DailyStat, ReceivedEvent
from profiles.models import Profile, TimelineEvent, normalize_email
from providers.models import EmailProvider
from tests.callback_strategies import (
    FORMAT_BODIES,
    dumps,
    huge_ints,
    json_trees,
    odd_emails,
    sendgrid_bodies,
    smtp_event,
)
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

DOCUMENTED = {200, 400, 403, 413}
KINDS = [EmailProvider.Kind.SMTP, EmailProvider.Kind.SENDGRID, EmailProvider.Kind.NETCORE]


# --- the endpoint, its answer, the database ----------------------------------------------
@pytest.fixture
def providers(db):
    return {kind: EmailProviderFactory(kind=kind, nickname=f"Fuzz {kind}") for kind in KINDS}


def state() -> tuple:
    stats = DailyStat.objects.aggregate(
        *(Sum(name) for name in ("delivered", "soft_bounce", "hard_bounce", "dropped")),
        *(Sum(name) for name in ("invalid", "spam", "unsubscribed", "ignored", "duplicates")),
    )
    return (
        Profile.objects.count(),
        list(Profile.objects.order_by("pk").values_list("status", "soft_bounce_count")),
        TimelineEvent.objects.count(),
        sorted(stats.items()),
        ReceivedEvent.objects.count(),
    )


def check_body(status: int, body: dict) -> None:
    """The documented bodies of seed 003 (and our 403/413 in the same error shape)."""
    if status == 200:
        if body["status"] == "success":
            assert body == {"status": "success", "message": "Callback processed successfully"}
            return
        assert body["status"] == "partial_success"
        assert set(body) == {"status", "processed", "failed", "errors"}
        assert isinstance(body["processed"], int) and isinstance(body["failed"], int)
        assert body["failed"] == len(body["errors"]) > 0
        for error in body["errors"]:
            assert set(error) == {"event_index", "error"}
            assert isinstance(error["event_index"], int) and isinstance(error["error"], str)
        return
    assert set(body) == {"status", "message", "error_code"}
    assert body["status"] == "error" and body["error_code"] == status
    assert isinstance(body["message"], str) and body["message"]


def post_and_check(provider: EmailProvider, body: bytes, **headers):
    """POST `body`; assert a documented answer and that only processed events changed data."""
    before = state()
    logs_before = CallbackLog.objects.count()
    response = Client().post(
        provider.callback_path, data=body, content_type="application/json", headers=headers
    )
    inbox.apply_pending()  # a worker's part
    assert response.status_code in DOCUMENTED, (response.status_code, body[:300])
    assert response["Content-Type"] == "application/json"
    payload = json.loads(response.content)
    check_body(response.status_code, payload)
    log = CallbackLog.objects.order_by("-pk").first()
    assert CallbackLog.objects.count() == logs_before + 1
    assert log.status_code == response.status_code
    if response.status_code != 200 or log.processed == 0:
        assert state() == before, f"{response.status_code} changed the database"
    # Shown by --hypothesis-show-statistics: how deep the examples reach.
    if currently_in_test_context():
        event(f"{response.status_code} {payload['status']}, processed={min(log.processed, 1)}")
    return response, payload, log


# --- properties ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(tree=json_trees)
def test_any_json_tree_gets_a_documented_answer(providers, kind, tree):
    post_and_check(providers[kind], dumps(tree))


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_well_shaped_events_with_wrong_types_get_a_documented_answer(providers, kind, data):
    body = data.draw(FORMAT_BODIES[kind])
    post_and_check(providers[kind], dumps(body))


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(raw=st.binary(max_size=600).map(lambda b: b.replace(b"\x00", b"")), data=st.data())
def test_any_bytes_including_invalid_utf8_get_a_documented_answer(providers, kind, raw, data):
    valid = dumps(data.draw(FORMAT_BODIES[kind]))
    cut = data.draw(st.integers(0, len(valid)))
    # Raw NUL bytes are left out here: see test_a_body_with_a_nul_byte_is_logged below.
    garbage = data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", raw]))
    body = data.draw(st.sampled_from([raw, valid[:cut] + garbage + valid[cut:]]))
    response, payload, _log = post_and_check(providers[kind], body)
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        assert response.status_code == 400
        assert payload["message"] == "invalid payload"


@FUZZ
@given(email=odd_emails, kind_word=st.sampled_from(["delivered", "hard_bounce", "spam"]))
def test_unicode_and_odd_case_addresses_land_on_one_profile(providers, email, kind_word):
    assume(email.swapcase().lower() == email.lower() and len(email.lower()) <= 254)
    provider = providers[EmailProvider.Kind.SMTP]
    for variant, meta in ((email, "first"), (email.swapcase(), "second")):
        body = {"version": "v2", "events": {"x": [smtp_event(kind_word, variant, meta, {})]}}
        response, payload, log = post_and_check(provider, dumps(body))
        assert payload["status"] == "success", payload
        assert log.processed == 1
    profiles = Profile.objects.filter(email=normalize_email(email))
    assert profiles.count() == 1
    # A delivery or hard bounce adds a row each time; a second spam report does not, since an
    # address unsubscribes once (Channel Unsubscribed once, seed 003).
    rows = {"delivered": 2, "hard_bounce": 2, "spam": 1}
    assert profiles.get().timeline.count() >= rows[kind_word]
    if kind_word != "delivered":
        assert not profiles.get().is_active


# --- a SendGrid provider that verifies signatures ------------------------------------------
@pytest.fixture
def signed_sendgrid(db):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return EmailProviderFactory(
        sendgrid=True,
        nickname="Signed SendGrid",
        webhook_verification_key=base64.b64encode(public).decode(),
    )


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)


@FUZZ
@given(
    body=sendgrid_bodies().map(dumps) | st.binary(max_size=200),
    signature=header_text | st.binary(max_size=72).map(lambda b: base64.b64encode(b).decode()),
    timestamp=header_text | huge_ints.map(str),
)
def test_forged_signatures_get_403_and_change_nothing(signed_sendgrid, body, signature, timestamp):
    headers = {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: timestamp}
    response, _payload, _log = post_and_check(signed_sendgrid, body, **headers)
    assert response.status_code == 403


# --- explicit cases --------------------------------------------------------------------------
def ten_megabytes(kind) -> bytes:
    event = {
        EmailProvider.Kind.SMTP: {"version": "v2", "event": "failed", "type": "spam", "meta": "m"},
        EmailProvider.Kind.SENDGRID: {"event": "spamreport", "timestamp": 1},
        EmailProvider.Kind.NETCORE: {"EVENT": "spam", "TIMESTAMP": 1},
    }[kind]
    events = [{**event, "email": f"p{i}@example.org", "pad": "x" * 1000} for i in range(10_000)]
    body = dumps(events)
    assert len(body) > 10_000_000
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_a_ten_megabyte_body_gets_413_and_changes_nothing(providers, kind):
    response, payload, _log = post_and_check(providers[kind], ten_megabytes(kind))
    assert response.status_code == 413
    assert payload["message"] == "Payload too large"


def v2_nested(count: int, buckets=("success", "failed", "other")) -> dict:
    per = [[] for _ in buckets]
    for i in range(count):
        per[i % len(buckets)].append(
            {
                "type": "delivered" if i % 2 else "soft_bounce",
                "email": f"n{i}@example.org",
                "meta": f"m{i}",
            }
        )
    return {"version": "v2", "events": dict(zip(buckets, per, strict=True))}


def many_events(kind, count: int):
    if kind == EmailProvider.Kind.SMTP:
        return v2_nested(count)
    if kind == EmailProvider.Kind.SENDGRID:
        return [
            {"event": "delivered", "email": f"n{i}@example.org", "timestamp": 1_700_000_000,
             "sg_event_id": f"e{i}"}
            for i in range(count)
        ]  # fmt: skip
    return [
        {"EVENT": "sent", "EMAIL": f"n{i}@example.org", "TIMESTAMP": 1_700_000_000, "TRANSID": i}
        for i in range(count)
    ]


def test_1001_events_are_refused_whole(providers):
    """Seed 003's limit, for CleverTap's own formats."""
    provider = providers[EmailProvider.Kind.SMTP]
    response, payload, _log = post_and_check(provider, dumps(many_events(provider.kind, 1001)))
    assert response.status_code == 400
    assert payload["message"] == "More than allowed events were sent"


@pytest.mark.parametrize("kind", [EmailProvider.Kind.SENDGRID, EmailProvider.Kind.NETCORE])
def test_an_esp_batch_past_1000_events_is_accepted_whole(providers, kind):
    """SendGrid and Netcore batch by their own rules, within the body-size limit."""
    response, payload, log = post_and_check(providers[kind], dumps(many_events(kind, 1001)))
    assert (response.status_code, payload["status"], log.processed) == (200, "success", 1001)


def test_1001_legacy_events_across_groups_are_refused_whole(providers):
    groups = [
        {"event": event, "data": [{"e": f"l{event}{i}@example.org", "ts": i + 1} for i in range(n)]}
        for event, n in (("softbounce", 500), ("hardbounce", 400), ("unsubscribe", 101))
    ]
    provider = providers[EmailProvider.Kind.SMTP]
    response, payload, _log = post_and_check(provider, dumps(groups))
    assert response.status_code == 400
    assert payload["message"] == "More than allowed events were sent"


@pytest.mark.parametrize("kind", KINDS)
def test_1000_events_are_accepted(providers, kind):
    response, payload, log = post_and_check(providers[kind], dumps(many_events(kind, 1000)))
    assert response.status_code == 200
    assert payload["status"] == "success"
    assert log.processed == 1000
    assert Profile.objects.count() == 1000


EMPTY_BODIES = {
    EmailProvider.Kind.SMTP: [
        [],
        {"version": "v2", "events": {}},
        {"version": "v2", "events": {"success": [], "failed": []}},
        [{"event": "hardbounce", "data": []}],
    ],
    EmailProvider.Kind.SENDGRID: [[]],
    EmailProvider.Kind.NETCORE: [[]],
}


@pytest.mark.parametrize(
    ("kind", "body"),
    [(kind, body) for kind, bodies in EMPTY_BODIES.items() for body in bodies],
)
def test_empty_batches_succeed_and_count_nothing(providers, kind, body):
    response, payload, log = post_and_check(providers[kind], dumps(body))
    assert response.status_code == 200
    assert payload["status"] == "success"
    assert log.events_total == 0


NULLS = {
    EmailProvider.Kind.SMTP: [
        None,
        {"version": "v2", "events": None},
        {"version": "v2", "events": {"success": None}},
        {"version": "v2", "events": {"success": [None]}},
        {"version": None, "events": {"success": []}},
        {"version": "v2", "events": {"failed": [{"type": "spam", "email": None, "meta": "m"}]}},
        [{"event": None, "data": [{"e": "a@example.org"}]}],
        [{"event": "hardbounce", "data": [{"e": None, "ts": None}]}],
    ],
    EmailProvider.Kind.SENDGRID: [None],
    EmailProvider.Kind.NETCORE: [None],
}
# SendGrid and Netcore retry a whole batch on any refusal: a null item or field fails alone.
NULL_ESP_ITEMS = {
    EmailProvider.Kind.SENDGRID: [
        (None, "invalid payload"),
        ({"event": None, "email": "a@example.org"}, "Mandatory parameter missing: event"),
        ({"event": "delivered", "email": None}, "Mandatory parameter missing: email"),
    ],
    EmailProvider.Kind.NETCORE: [
        (None, "invalid payload"),
        ({"EVENT": None, "EMAIL": "a@example.org"}, "Mandatory parameter missing: EVENT"),
        ({"EVENT": "sent", "EMAIL": None}, "Mandatory parameter missing: EMAIL"),
    ],
}


@pytest.mark.parametrize(
    ("kind", "body"), [(kind, body) for kind, bodies in NULLS.items() for body in bodies]
)
def test_null_where_a_field_belongs_is_a_400(providers, kind, body):
    response, payload, _log = post_and_check(providers[kind], dumps(body))
    assert response.status_code == 400, payload


@pytest.mark.parametrize(
    ("kind", "item", "error"),
    [(kind, item, error) for kind, items in NULL_ESP_ITEMS.items() for item, error in items],
)
def test_a_null_esp_item_or_field_fails_that_event_alone(providers, kind, item, error):
    body = many_events(kind, 2)
    body.insert(1, item)
    response, payload, _log = post_and_check(providers[kind], dumps(body))
    assert response.status_code == 200, payload
    assert payload["status"] == "partial_success"
    assert (payload["processed"], payload["errors"]) == (2, [{"event_index": 1, "error": error}])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"1" + b"0" * 400, b"-0"]
)
def test_nan_and_infinity_literals_in_number_fields(providers, kind, literal):
    template = {
        EmailProvider.Kind.SMTP: b'[{"event": "hardbounce", "data": [{"e": "a@example.org", '
        b'"ts": %s}]}]',
        EmailProvider.Kind.SENDGRID: b'[{"event": "bounce", "email": "a@example.org", '
        b'"timestamp": %s}]',
        EmailProvider.Kind.NETCORE: b'[{"EVENT": "bounced", "EMAIL": "a@example.org", '
        b'"TIMESTAMP": %s, "TRANSID": %s}]',
    }[kind]
    body = template.replace(b"%s", literal)
    response, payload, log = post_and_check(providers[kind], body)
    assert response.status_code == 200
    if literal != b"-0":
        assert payload["status"] == "partial_success"
        assert payload["errors"] == [{"event_index": 0, "error": "Invalid timestamp"}]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce lengths")
def test_an_address_that_grows_when_lowercased_is_not_a_500(providers):
    email = "\u0130" * 200 + "@example.org"  # 212 characters; 412 once lowercased
    body = [{"event": "bounce", "type": "bounce", "email": email, "timestamp": 1}]
    post_and_check(providers[EmailProvider.Kind.SENDGRID], dumps(body))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite stores NUL characters")
def test_a_body_with_a_nul_byte_is_logged(providers):
    provider = providers[EmailProvider.Kind.NETCORE]
    response = Client().post(
        provider.callback_path, data=b"[\x00]", content_type="application/json"
    )
    assert response.status_code == 400
    assert CallbackLog.objects.filter(provider=provider, status_code=400).exists()
