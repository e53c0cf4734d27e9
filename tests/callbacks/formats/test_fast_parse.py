"""Plain parses: the worker reads a plain SendGrid, Netcore or CleverTap body in C and builds
its events with little Python, and must get what the general parse gets from every body: the
same events field for field (the dedupe key above all: it is stored), the same errors, count
and payload format, the same refusal."""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ingest import batch_body
from callbacks.formats import KIND_FORMATS, MalformedPayload, ParsedBatch, named, sendgrid
from callbacks.formats.base import MAX_SECONDS, load_json, parse_timestamp
from callbacks.formats.quick import plain_times
from providers.models import EmailProvider
from tests.callback_strategies import (
    FORMAT_BODIES,
    READABLE_BODIES,
    dumps,
    json_trees,
    mostly_readable_bodies,
    netcore_events,
    sendgrid_events,
)

from ..conftest import payload

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAMES = {
    EmailProvider.Kind.SENDGRID: "sendgrid",
    EmailProvider.Kind.NETCORE: "netcore",
    EmailProvider.Kind.SMTP: "generic_v2",
}


def described(batch: ParsedBatch):
    """All a batch says, each event by its repr: an aware datetime equals one in another zone,
    and a str enum equals its value, but their reprs differ."""
    assert type(batch) is ParsedBatch
    return [repr(event) for event in batch], batch.errors, batch.total, batch.payload_format


def outcome(parse, body: bytes):
    try:
        return described(parse(body))
    except MalformedPayload as exc:
        return ("refused", str(exc))


def general_parse(name: str):
    """The format's general parse, which a plain parse must agree with."""
    fmt = named(name)
    return lambda body: fmt.parse_data(load_json(body))


@pytest.mark.parametrize("kind", list(NAMES))
@PROPERTY
@given(data=st.data())
def test_a_mostly_readable_body_is_parsed_as_the_general_parse_reads_it(kind, data):
    value = data.draw(mostly_readable_bodies(kind))
    body = dumps(value, ensure_ascii=data.draw(st.booleans()))
    name = NAMES[kind]
    assert outcome(named(name).parse, body) == outcome(general_parse(name), body)


@pytest.mark.parametrize("kind", list(NAMES))
@PROPERTY
@given(data=st.data())
def test_any_body_is_parsed_as_the_general_parse_reads_it(kind, data):
    body = dumps(data.draw(FORMAT_BODIES[kind] | json_trees))
    name = NAMES[kind]
    assert outcome(named(name).parse, body) == outcome(general_parse(name), body)


def kind_parse(kind):
    """How a kind whose formats are told apart by shape reads a body in general."""
    formats = KIND_FORMATS[kind].formats

    def parse(body):
        data = load_json(body)
        return next(fmt for fmt in formats if fmt.accepts(data)).parse_data(data)

    return parse


@pytest.mark.parametrize("kind", [EmailProvider.Kind.SMTP, EmailProvider.Kind.GMAIL])
@PROPERTY
@given(data=st.data())
def test_a_kind_reads_a_body_through_a_plain_parse_as_it_reads_it_in_general(kind, data):
    smtp = EmailProvider.Kind.SMTP  # Gmail providers post the same formats
    strategy = mostly_readable_bodies(smtp) | FORMAT_BODIES[smtp] | json_trees
    body = dumps(data.draw(strategy), ensure_ascii=data.draw(st.booleans()))
    assert outcome(KIND_FORMATS[kind].parse, body) == outcome(kind_parse(kind), body)


def left_to_the_general_parse(kind, value, body: bytes) -> bool:
    """Whether a plain parse declines a readable body: a string holding NUL, an event without
    its word; for CleverTap any escaped character, or more items than the limit."""
    if kind == EmailProvider.Kind.SMTP:
        items = value if isinstance(value, list) else sum(value["events"].values(), [])
        return b"\\" in body or len(items) > 1000
    words = [event.get("EVENT", event.get("event")) for event in value]
    return b"\\u0000" in body or "" in words


@pytest.mark.parametrize("kind", list(NAMES))
@PROPERTY
@given(data=st.data())
def test_a_readable_body_is_read_by_the_plain_parse(kind, data):
    value = data.draw(READABLE_BODIES[kind])
    body = dumps(value, ensure_ascii=False)
    name = NAMES[kind]
    plain = named(name).plain_parse(body)
    assert (plain is None) == left_to_the_general_parse(kind, value, body)
    if plain is not None:
        assert described(plain) == outcome(general_parse(name), body)


def bench_body(name: str) -> bytes:
    emails = [f"person{i}@bench.example" for i in range(1000)]
    return batch_body(name, random.Random(7), emails, 1700000000)


READ_PLAINLY = [
    ("sendgrid", bench_body("sendgrid")),
    ("generic_v2", bench_body("generic_v2")),
    ("netcore", bench_body("netcore")),
    ("sendgrid", json.dumps(sendgrid_events(1000)).encode()),
    ("netcore", json.dumps(netcore_events(1000)).encode()),
    ("sendgrid", payload("sendgrid_events.json")),
    ("netcore", payload("netcore_migration.json")),
    ("generic_v2", payload("generic_v2_flat.json")),
]


def no_general_parse(data):
    raise AssertionError("parsed in general")


@pytest.mark.parametrize(("name", "body"), READ_PLAINLY)
def test_a_plain_batch_is_read_without_the_general_parse(monkeypatch, name, body):
    """The worker's route (`callbacks.inbox` parses through `named`): so the speed cannot
    quietly go, a plain batch never reaches the general parse."""
    expected = outcome(general_parse(name), body)
    monkeypatch.setattr(named(name), "parse_data", no_general_parse)
    assert outcome(named(name).parse, body) == expected
    assert expected[0]


@pytest.mark.parametrize("kind", [EmailProvider.Kind.SMTP, EmailProvider.Kind.GMAIL])
def test_a_plain_clevertap_batch_is_read_by_its_kind_without_the_general_parse(monkeypatch, kind):
    """The route of the sample button, which tells CleverTap's formats apart by shape."""
    body = bench_body("generic_v2")
    expected = outcome(kind_parse(kind), body)
    for fmt in KIND_FORMATS[kind].formats:
        monkeypatch.setattr(fmt, "parse_data", no_general_parse)
    assert outcome(KIND_FORMATS[kind].parse, body) == expected


SENDGRID = {"email": "p@example.org", "event": "delivered", "timestamp": 1700000000}
NETCORE = {"EMAIL": "p@example.org", "EVENT": "sent", "TIMESTAMP": 1700000000, "TRANSID": 7}
V2 = {"type": "hard_bounce", "email": "p@example.org", "meta": "m", "description": "550"}


def nested(*items):
    return {"version": "v2", "events": {"failed": list(items)}}


ODD = [
    ("sendgrid", [SENDGRID, {**SENDGRID, "timestamp": "1700000000"}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "timestamp": 1700000000.5}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "timestamp": MAX_SECONDS + 1}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "email": " p@example.org"}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "email": "Ünï@example.org"}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "event": ""}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "reason": "nul\x00"}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "asm_group_id": True}]),
    ("sendgrid", [SENDGRID, {**SENDGRID, "meta": ["a", "list"]}]),
    ("sendgrid", [SENDGRID, "not an object"]),
    ("sendgrid", SENDGRID),
    ("netcore", [NETCORE, {**NETCORE, "TIMESTAMP": "1700000000"}]),
    ("netcore", [NETCORE, {**NETCORE, "EVENT": None}]),
    ("netcore", [NETCORE, {"EVENT": "sent", "email": "p@example.org"}]),
    ("netcore", [NETCORE, {**NETCORE, "TRANSID": 7.5}]),
    ("netcore", [NETCORE, {**NETCORE, "RESPONSE": "nul\x00"}]),
    ("netcore", [NETCORE, {**NETCORE, "X-APIHEADER": {"an": "object"}}]),
    ("generic_v2", nested(V2, {**V2, "description": 'say "hi"'})),
    ("generic_v2", nested(V2, {**V2, "description": 550})),
    ("generic_v2", nested(V2, {**V2, "extra_key": "ignored"})),
    ("generic_v2", nested(V2, {**V2, "type": "Hard_Bounce"})),
    ("generic_v2", nested(V2, {**V2, "meta": ""})),
    ("generic_v2", {**nested(V2), "version": "V2"}),
    ("generic_v2", nested(*[V2] * 1001)),
    ("generic_v2", {"version": "v2", "event": "failed", **V2}),
]


@pytest.mark.parametrize(("name", "value"), ODD)
def test_an_odd_body_is_left_to_the_general_parse(monkeypatch, name, value):
    body = json.dumps(value).encode()
    expected = outcome(general_parse(name), body)
    fmt = named(name)
    general = fmt.parse_data
    calls = []
    monkeypatch.setattr(fmt, "parse_data", lambda data: calls.append(data) or general(data))
    assert fmt.plain_parse(body) is None
    assert outcome(fmt.parse, body) == expected
    assert len(calls) == 1


@pytest.mark.parametrize("name", list(NAMES.values()))
@pytest.mark.parametrize(
    "body",
    [
        # The last of two equal keys counts, for msgspec as for Python's json.
        b'[{"email": "p@example.org", "event": "bounce", "event": "delivered", "EVENT": "sent",'
        b' "EMAIL": "x", "EMAIL": "p@example.org"}]',
        b'{"version": "v2", "events": {"failed": [{"type": "spam", "email": "p@example.org",'
        b' "meta": "m", "meta": "n"}], "failed": []}}',
        # Keys spelled with escapes.
        b'[{"\\u0065mail": "p@example.org", "event": "delivered", "E\\u0056ENT": "sent",'
        b' "EMAIL": "p@example.org"}]',
        # What only Python's json reads, in a field no plain parse reads.
        b'[{"email": "p@example.org", "event": "delivered", "EVENT": "sent", "EMAIL":'
        b' "p@example.org", "x": NaN, "y": "\\ud800"}]',
        b'[{"email": "p@example.org", "event": "delivered", "x": "\xff"}]',
        # An integer too long for Python's int(), which its json refuses.
        b'[{"email": "p@example.org", "event": "delivered", "EVENT": "sent", "EMAIL":'
        b' "p@example.org", "x": %s}]' % (b"9" * 4301),
        b'\xef\xbb\xbf[{"email": "p@example.org", "event": "delivered"}]',
        b" \n[]\r\n",
        b"[]",
        b"{}",
    ],
)
def test_bytes_at_the_edges_of_json_are_parsed_as_the_general_parse_reads_them(name, body):
    assert outcome(named(name).parse, body) == outcome(general_parse(name), body)


@settings(max_examples=1000)
@given(
    seconds=st.lists(st.none() | st.integers(0, MAX_SECONDS) | st.sampled_from([0, MAX_SECONDS]))
)
def test_plain_times_are_what_parse_timestamp_makes_of_checked_values(seconds):
    assert repr(plain_times(seconds)) == repr([parse_timestamp(value) for value in seconds])


class ReadKeys(dict):
    """An item that records the keys read from it."""

    def __init__(self):
        super().__init__()
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("word", [*sendgrid.KINDS, "unknown"])
def test_sendgrid_classifies_by_the_fields_its_plain_parse_passes(word):
    item = ReadKeys()
    sendgrid._classify(word, item)
    assert item.read <= set(sendgrid._CLASSIFIED_BY)
