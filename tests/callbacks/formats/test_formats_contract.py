"""The contract every callback format keeps, whatever the ESP (STYLE.md, "Tests").

Parametrised over the registry (`callbacks.formats`): every format, and every provider kind
through its formats, so a new format or kind meets every rule here without a new line.
"""

import json

import pytest

from callbacks.formats import (
    FORMATS,
    KIND_FORMATS,
    CallbackEvent,
    MalformedPayload,
    ParsedBatch,
)
from callbacks.formats.base import MAX_EVENTS
from callbacks.models import EventKind
from providers.models import EmailProvider

from ..conftest import PAYLOADS


def v2_flat(events):
    return [
        {"version": "v2", "event": "failed", "type": name, "email": email, "meta": f"m-{i}"}
        for i, (name, email) in enumerate(events)
    ]


def v2_nested(events):
    return {
        "version": "v2",
        "events": {
            "failed": [
                {"type": name, "email": email, "meta": f"m-{i}"}
                for i, (name, email) in enumerate(events)
            ]
        },
    }


def legacy(events):
    return [
        {"event": name, "data": [{"e": email, "ts": 1435322805 + i}]}
        for i, (name, email) in enumerate(events)
    ]


def sendgrid_body(events):
    return [
        {"event": name, "email": email, "timestamp": 1700000000, "sg_event_id": f"id-{i}"}
        for i, (name, email) in enumerate(events)
    ]


def netcore_native(events):
    return [
        {"EVENT": name, "EMAIL": email, "TIMESTAMP": 1700000000, "TRANSID": i}
        for i, (name, email) in enumerate(events)
    ]


def netcore_migration(events):
    return [
        {"event": name, "email": email, "timestamp": 1700000000, "sg_message_id": f"m{i}"}
        for i, (name, email) in enumerate(events)
    ]


def postmark_body(events):
    """Postmark posts one record per request; its format reads an array of them too."""
    return [
        {"RecordType": name, "email": email, "ID": i, "Inactive": True}
        for i, (name, email) in enumerate(events)
    ]


# Per format name: its body builders (one per shape) and an event name that maps to hard bounce.
BUILDERS = {
    "generic_v2": ((v2_flat, v2_nested), "hard_bounce"),
    "legacy_bounce": ((legacy,), "hardbounce"),
    "sendgrid": ((sendgrid_body,), "bounce"),
    "netcore": ((netcore_native, netcore_migration), "bounced"),
    "postmark": ((postmark_body,), "Bounce"),
    # One SNS message per POST, not an array of items: its rules are in test_ses_callbacks.py.
    "ses": ((), "Permanent"),
    # One event per body: no batch to build; tests/callbacks/test_mailgun_format.py reads it.
    "mailgun": ((), "failed"),
}
# The migration shape names its hard bounce as SendGrid does.
HARD_EVENT = {netcore_migration: "bounce"}

# parse, body builder, an event name that maps to hard bounce: every format by each of its
# shapes, then every provider kind by each shape of each of its formats.
CASES = {
    f"{fmt.name}:{build.__name__}": (fmt.parse, build, HARD_EVENT.get(build, hard))
    for fmt in FORMATS
    for build, hard in [(b, BUILDERS[fmt.name][1]) for b in BUILDERS[fmt.name][0]]
} | {
    f"kind-{kind}:{build.__name__}": (entry.parse, build, HARD_EVENT.get(build, hard))
    for kind, entry in KIND_FORMATS.items()
    for fmt in entry.formats
    for build, hard in [(b, BUILDERS[fmt.name][1]) for b in BUILDERS[fmt.name][0]]
}
CLEVERTAP_BUILDERS = (v2_flat, v2_nested, legacy)

cases = pytest.mark.parametrize(("parse", "build", "hard"), CASES.values(), ids=CASES.keys())
CLEVERTAP_CASES = [name for name, case in CASES.items() if case[1] in CLEVERTAP_BUILDERS]
clevertap_cases = pytest.mark.parametrize(
    ("parse", "build", "hard"), [CASES[name] for name in CLEVERTAP_CASES], ids=CLEVERTAP_CASES
)
ESP_CASES = [name for name, case in CASES.items() if case[1] not in CLEVERTAP_BUILDERS]
esp_cases = pytest.mark.parametrize(
    ("parse", "build", "hard"), [CASES[name] for name in ESP_CASES], ids=ESP_CASES
)


def encode(data) -> bytes:
    return json.dumps(data).encode()


def test_every_provider_kind_has_its_formats():
    assert set(KIND_FORMATS) == set(EmailProvider.Kind.values)
    for entry in KIND_FORMATS.values():
        assert entry.formats and entry.sample_format in entry.formats


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.name)
def test_every_format_has_its_parts(fmt):
    """A mapping of the ESP's words, a sample it reads itself, body builders and fixtures."""
    assert fmt.kinds and all(isinstance(kind, EventKind) for kind in fmt.kinds.values())
    assert fmt.name in BUILDERS
    assert list(PAYLOADS.glob(f"{fmt.name}_*.json")), f"no payloads/{fmt.name}_*.json"
    sample = fmt.parse(fmt.sample())
    one_event_per_body = not BUILDERS[fmt.name][0]
    assert len(sample) >= (1 if one_event_per_body else 2) and sample.errors == []
    assert {event.email for event in sample} == {"sample@postdesk.invalid"}


@cases
@pytest.mark.parametrize("body", [b"{oops", b"", b"\x80\x81", b"null", b"42", b'"text"'])
def test_bad_json_or_shape_is_malformed(parse, build, hard, body):
    with pytest.raises(MalformedPayload, match="invalid payload"):
        parse(body)


@cases
def test_an_empty_batch_is_valid_and_empty(parse, build, hard):
    batch = parse(encode(build([])))
    assert isinstance(batch, ParsedBatch)
    assert list(batch) == [] and batch.errors == [] and batch.total == 0


@clevertap_cases
def test_more_than_1000_events_are_refused_in_clevertaps_formats(parse, build, hard):
    """Seed 003's limit is CleverTap's, for its own formats."""
    events = [(hard, f"u{i}@example.com") for i in range(MAX_EVENTS + 1)]
    with pytest.raises(MalformedPayload, match="More than allowed events were sent"):
        parse(encode(build(events)))


@esp_cases
def test_an_esp_batch_of_5000_events_is_read_whole(parse, build, hard):
    """SendGrid and Netcore batch by their own rules (reference §7): no 1000-event limit."""
    events = [(hard, f"u{i}@example.com") for i in range(5000)]
    batch = parse(encode(build(events)))
    assert (len(batch), batch.total, batch.errors) == (5000, 5000, [])


@esp_cases
def test_an_esp_event_without_its_mandatory_keys_fails_alone(parse, build, hard):
    """An ESP retries a whole batch on any refusal: one bad event must not sink the rest."""
    events = build([(hard, "a@example.com"), (hard, "b@example.com"), (hard, "c@example.com")])
    email_key = "EMAIL" if "EMAIL" in events[0] else "email"
    del events[1][email_key]
    events.append("not an object")
    batch = parse(encode(events))
    assert [event.email for event in batch] == ["a@example.com", "c@example.com"]
    assert [(e.index, e.error) for e in batch.errors] == [
        (1, f"Mandatory parameter missing: {email_key}"),
        (3, "invalid payload"),
    ]


@clevertap_cases
@pytest.mark.parametrize("depth", [101, 500, 990, 2000])
def test_a_clevertap_field_nested_deeply_is_an_invalid_payload(parse, build, hard, depth):
    """However deep the caller's stack, the answer is the documented 400, never a crash."""
    data = build([(hard, "a@example.com")])
    items = data["events"]["failed"] if isinstance(data, dict) else data
    item = items[0]["data"][0] if "data" in items[0] else items[0]
    item["reason" if "e" in item else "meta"] = "PLACEHOLDER"
    body = encode(data).replace(b'"PLACEHOLDER"', b'{"x": ' * depth + b"1" + b"}" * depth)
    with pytest.raises(MalformedPayload, match="invalid payload"):
        parse(body)


@esp_cases
def test_an_esp_field_nested_deeply_reads_as_empty(parse, build, hard):
    events = build([(hard, "a@example.com")])
    meta_key = "X-APIHEADER" if "EMAIL" in events[0] else "meta"
    events[0][meta_key] = "PLACEHOLDER"
    body = encode(events).replace(b'"PLACEHOLDER"', b"[" * 500 + b"1" + b"]" * 500)
    [event] = parse(body)
    assert event.meta == ""


@cases
def test_1000_events_are_accepted(parse, build, hard):
    events = [(hard, f"u{i}@example.com") for i in range(MAX_EVENTS)]
    batch = parse(encode(build(events)))
    assert len(batch) == MAX_EVENTS and batch.total == MAX_EVENTS


@cases
def test_an_unknown_event_never_rejects_the_batch(parse, build, hard):
    batch = parse(encode(build([("no_such_event", "a@example.com"), (hard, "b@example.com")])))
    assert batch.total == 2
    hard_events = [e for e in batch if e.kind == EventKind.HARD_BOUNCE]
    assert [e.email for e in hard_events] == ["b@example.com"]
    # Logged and counted: an ignored event, or a per-event error for CleverTap's closed list.
    ignored = [e for e in batch if e.kind == EventKind.IGNORED]
    assert len(ignored) + len(batch.errors) == 1
    if batch.errors:
        assert batch.errors[0].index == 0
        assert batch.errors[0].error == "Could not map event to any bounce type"


@cases
def test_an_invalid_address_is_a_per_event_error(parse, build, hard):
    batch = parse(encode(build([(hard, "not an address"), (hard, "ok@example.com")])))
    assert [(e.index, e.error) for e in batch.errors] == [(0, "Invalid email format")]
    assert [e.email for e in batch] == ["ok@example.com"]


@cases
def test_events_are_normalised(parse, build, hard):
    (event,) = parse(encode(build([(hard, " Mixed@Example.COM ")])))
    assert isinstance(event, CallbackEvent)
    assert event.email == "Mixed@Example.COM"
    assert event.kind == EventKind.HARD_BOUNCE
    assert event.suppress is True
    assert event.dedupe_key and len(event.dedupe_key) <= 100


@cases
def test_unknown_extra_keys_are_ignored(parse, build, hard):
    data = build([(hard, "a@example.com")])
    items = data["events"]["failed"] if isinstance(data, dict) else data
    items[0]["something_new"] = {"nested": [1, 2]}
    assert len(parse(encode(data))) == 1


@cases
def test_the_same_event_twice_has_the_same_dedupe_key(parse, build, hard):
    body = encode(build([(hard, "a@example.com")]))
    assert parse(body)[0].dedupe_key == parse(body)[0].dedupe_key
