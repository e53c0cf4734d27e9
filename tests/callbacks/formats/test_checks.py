"""Checks: the endpoint's answer comes from a body's check, the worker's events from its parse.

Whatever the body, a format's checker must say what its parser would: the same count, the
same errors, the same refusal. SendGrid's, Netcore's and CleverTap's checkers read plain
batches in C and hand anything else to the parser, so the properties mix plain events with
hostile ones.
"""

import json
import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbacks.formats import KIND_FORMATS, BatchReport, EventError, MalformedPayload
from callbacks.formats.base import MAX_SECONDS, TOO_MANY_EVENTS
from callbacks.formats.generic_v2 import FORMAT as generic_v2
from callbacks.formats.legacy_bounce import FORMAT as legacy_bounce
from callbacks.formats.netcore import FORMAT as netcore
from callbacks.formats.sendgrid import FORMAT as sendgrid
from providers.models import EmailProvider
from tests.callback_strategies import FORMAT_BODIES, deep, dumps, json_trees

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_+", min_size=1, max_size=12)
plain_emails = st.builds(lambda local, domain: f"{local}@{domain}.org", label, label)
# Plain addresses around a line break: each line passes the plain pattern, the whole does not.
split_emails = st.builds(
    lambda first, second, sep: f"{first}{sep}{second}",
    plain_emails,
    plain_emails | st.just(""),
    st.sampled_from(["\n", "\r\n", "\n\n"]),
)
plain_times = st.integers(0, MAX_SECONDS)
plain_sendgrid_events = st.fixed_dictionaries(
    {
        "email": plain_emails | split_emails,
        "event": st.sampled_from(["delivered", "bounce", "dropped", "spamreport", "open"]),
        "timestamp": plain_times,
        "sg_event_id": label,
    },
    optional={"type": st.sampled_from(["bounce", "blocked"]), "reason": label},
)
plain_netcore_events = st.fixed_dictionaries(
    {
        "EMAIL": plain_emails | split_emails,
        "EVENT": st.sampled_from(["sent", "bounced", "dropped", "abuse", "opened"]),
        "TIMESTAMP": plain_times,
        "TRANSID": st.integers(0, 2**63),
    },
    optional={"BOUNCE_TYPE": st.sampled_from(["SOFTBOUNCE", "HARDBOUNCE"]), "RESPONSE": label},
) | st.fixed_dictionaries(
    {
        "email": plain_emails | split_emails,
        "event": st.sampled_from(["delivered", "bounce", "dropped", "abuse", "open"]),
        "timestamp": plain_times,
        "sg_message_id": label,
    },
)
PLAIN_EVENTS = {
    EmailProvider.Kind.SENDGRID: plain_sendgrid_events,
    EmailProvider.Kind.NETCORE: plain_netcore_events,
}


@st.composite
def mostly_plain_bodies(draw, kind):
    """Plain events, now and then one from the hostile strategy at a random place."""
    events = draw(st.lists(PLAIN_EVENTS[kind], max_size=20))
    if draw(st.booleans()):
        [odd, *_] = draw(FORMAT_BODIES[kind].filter(bool))
        events.insert(draw(st.integers(0, len(events))), odd)
    return events


def outcome(check, body: bytes):
    try:
        return check(body)
    except MalformedPayload as exc:
        return ("refused", str(exc))


def parsed(kind, body: bytes):
    return outcome(lambda b: KIND_FORMATS[kind].parse(b).report(), body)


@pytest.mark.parametrize("kind", list(KIND_FORMATS))
@PROPERTY
@given(data=st.data())
def test_every_checker_says_what_its_parser_says(kind, data):
    strategy = FORMAT_BODIES.get(kind, FORMAT_BODIES[EmailProvider.Kind.SMTP]) | json_trees
    body = dumps(data.draw(strategy))
    assert outcome(KIND_FORMATS[kind].check, body) == parsed(kind, body)


@pytest.mark.parametrize("kind", list(PLAIN_EVENTS))
@PROPERTY
@given(data=st.data())
def test_a_quick_check_says_what_the_parse_says(kind, data):
    body = dumps(data.draw(mostly_plain_bodies(kind)))
    assert outcome(KIND_FORMATS[kind].check, body) == parsed(kind, body)


# CleverTap's plain bodies, mostly with one item made odd in one way the parser notices
# (`oddities`), now and then as many items as the 1000-event limit, give or take.
clevertap_events = st.sampled_from(
    ["delivered", "soft_bounce", "hard_bounce", "spam", "unsubscribed"]
)
plain_v2_items = st.fixed_dictionaries(
    {"type": clevertap_events, "email": plain_emails, "meta": label},
    optional={"description": label | st.none()},
)
plain_legacy_items = st.fixed_dictionaries(
    {"e": plain_emails},
    optional={"ts": plain_times | st.none(), "reason": label},
)
DROP = object()  # the key is missing
DEEP = deep(101, "x")  # nested deeper than any item may be
SHALLOW = deep(98, "x")


ODD_VALUES = {
    "email": ["a@b.org\nc@d.org", "not-an-address"],
    "e": ["a@b.org\r\nc@d.org", "not-an-address"],
    "ts": ["soon", -1],
    "extra": [DEEP, SHALLOW, "x"],
    "description": [DEEP],
    "reason": [DEEP],
}


def oddities(keys, words):
    """One odd (key, value) per choice: a mandatory key missing or empty, an unmapped or
    unusual event word, a bad address, an odd time, an extra key, deep nesting."""
    return st.sampled_from(
        [(key, DROP) for key in keys]
        + [(key, "") for key in keys]
        + [(keys[0], word) for word in words]
        + [
            (key, value)
            for key, values in ODD_VALUES.items()
            if key in keys or key in ("extra", "description", "reason")
            for value in values
        ]
    )


@st.composite
def made_odd(draw, items, keys, words=()):
    """`items`, mostly with one of them made odd in one way."""
    if items and draw(st.booleans()):
        index = draw(st.integers(0, len(items) - 1))
        key, value = draw(oddities(keys, words))
        item = {k: v for k, v in items[index].items() if k != key}
        if value is not DROP:
            item[key] = value
        items = [*items[:index], item, *items[index + 1 :]]
    return items


def about_the_limit(items):
    return st.sampled_from([0, 0, 999, 1000, 1001]).map(
        lambda count: (items * count)[:count] if items and count else items
    )


V2_WORDS = ["opened", "Spam", " spam", "softbounce"]
LEGACY_WORDS = ["bounce", "HARDBOUNCE", " softbounce", "delivered"]


@st.composite
def plain_generic_v2_bodies(draw):
    items = draw(st.lists(plain_v2_items, max_size=20).flatmap(about_the_limit))
    if draw(st.booleans()):
        flat = [{"version": "v2", "event": "failed", **item} for item in items]
        return draw(made_odd(flat, ["type", "version", "event", "email", "meta"], V2_WORDS))
    items = draw(made_odd(items, ["type", "email", "meta"], V2_WORDS))
    split = draw(st.integers(0, len(items)))
    body = {"version": "v2", "events": {"success": items[:split], "failed": items[split:]}}
    if draw(st.integers(0, 7)):
        return body
    return draw(made_odd([body], ["version", "events"], ["V2", "v1"]))[0]


@st.composite
def plain_legacy_bodies(draw):
    items = draw(st.lists(plain_legacy_items, max_size=20).flatmap(about_the_limit))
    items = draw(made_odd(items, ["e", "ts"]))
    words = draw(st.lists(st.sampled_from(["softbounce", "hardbounce", "unsubscribe"]), min_size=1))
    groups = [{"event": word, "data": items[i :: len(words)]} for i, word in enumerate(words)]
    if draw(st.integers(0, 3)):
        return groups
    return draw(made_odd(groups, ["event", "data"], LEGACY_WORDS))


@settings(PROPERTY, max_examples=1000)
@given(body=plain_generic_v2_bodies() | plain_legacy_bodies())
def test_a_clevertap_quick_check_says_what_the_parse_says(body):
    kind = EmailProvider.Kind.SMTP  # Gmail providers post the same formats
    body = dumps(body)
    assert outcome(KIND_FORMATS[kind].check, body) == parsed(kind, body)


SUCCESS = {"type": "delivered", "email": "p@example.org", "meta": "p@example.org|1|c|s|"}
FAILED = {**SUCCESS, "type": "hard_bounce", "description": "550 no such user"}
V2_NESTED = {"version": "v2", "events": {"success": [SUCCESS] * 500, "failed": [FAILED] * 500}}
V2_FLAT = [{"version": "v2", "event": "failed", **FAILED}] * 1000
LEGACY = [
    {"event": "hardbounce", "data": [{"e": "p@example.org", "ts": 1700000000}] * 600},
    {"event": "unsubscribe", "data": [{"e": "q@example.org", "reason": "asked"}] * 400},
]


@pytest.mark.parametrize(
    ("body", "payload_format"),
    [
        (V2_NESTED, "generic_v2"),
        (V2_FLAT, "generic_v2"),
        ([], "generic_v2"),
        (LEGACY, "legacy_bounce"),
    ],
)
@pytest.mark.parametrize("kind", [EmailProvider.Kind.SMTP, EmailProvider.Kind.GMAIL])
def test_a_plain_clevertap_batch_is_checked_without_parsing_it(
    monkeypatch, kind, body, payload_format
):
    def no_parse(body):
        raise AssertionError("parsed")

    for fmt in (generic_v2, legacy_bounce):
        monkeypatch.setattr(fmt, "parse", no_parse)
        monkeypatch.setattr(fmt, "parse_data", no_parse)
    report = KIND_FORMATS[kind].check(json.dumps(body).encode())
    assert report == BatchReport(1000 if body else 0, payload_format=payload_format)


@pytest.mark.parametrize(
    "body",
    [
        {"version": "v2", "events": {"success": [SUCCESS] * 1001}},
        [{"version": "v2", "event": "failed", **FAILED}] * 1001,
        [{"event": "hardbounce", "data": [{"e": "p@example.org"}] * 1001}],
    ],
)
def test_a_plain_clevertap_batch_past_1000_events_is_refused_by_the_check(body):
    with pytest.raises(MalformedPayload, match=TOO_MANY_EVENTS):
        KIND_FORMATS[EmailProvider.Kind.SMTP].check(json.dumps(body).encode())


@pytest.mark.parametrize(
    "email",
    [
        "a@b.co",
        "first.last+tag@mail.example.org",
        "a@b@example.org",  # the domain follows the last "@"
        "x@-.org",
        "x@b..org",
        ("x" * 245) + "@exam.org",  # 254 characters
        ("x" * 246) + "@exam.org",  # 255
        "a@b.org.",
        "a@.b.org",
        "a@b",
        "@b.org",
        "a b@c.org",
        " a@b.org",
        "a@b.org\n",
        "Ünï@b.org",
        "a@b.org\u00a0",
        "a\u0000@b.org",
    ],
)
def test_addresses_at_the_edges_of_the_plain_pattern(email):
    body = json.dumps([{"email": email, "event": "delivered", "timestamp": 1}]).encode()
    assert outcome(sendgrid.check, body) == parsed(EmailProvider.Kind.SENDGRID, body)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"email": "a@b.org", "event": "delivered", "\xffsg_event_id": "x"}]',
        b'[{"email": "a@b.org", "event": "delivered", "reason": "\xff"}]',
        b'[{"email": "a@b.org", "event": "delivered", "reason": "\\ud800"}]',
        b'[{"email": "a@b.org", "event": "delivered", "status": NaN}]',
    ],
)
def test_what_the_check_does_not_read_is_still_valid_json(body):
    """Invalid UTF-8 in a field the check skips is refused, as the parser refuses it; what
    only Python's json accepts (lone surrogates, NaN) is accepted, as the parser accepts it."""
    assert outcome(sendgrid.check, body) == parsed(EmailProvider.Kind.SENDGRID, body)


def test_a_plain_batch_is_checked_without_parsing_it(monkeypatch):
    def no_parse(body):
        raise AssertionError("parsed")

    events = [
        {"email": f"p{i}@example.org", "event": "delivered", "timestamp": 1700000000 + i}
        for i in range(1000)
    ]
    monkeypatch.setattr(sendgrid, "parse", no_parse)
    report = sendgrid.check(json.dumps(events).encode())
    assert report == BatchReport(1000, payload_format=sendgrid.name)


def test_an_unreadable_event_sends_the_body_to_the_parser():
    events = [
        {"email": "ok@example.org", "event": "delivered", "timestamp": 1},
        {"email": "not-an-address", "event": "delivered", "timestamp": 2},
        {"email": "ok@example.org", "event": "bounce", "timestamp": "yesterday"},
    ]
    report = sendgrid.check(json.dumps(events).encode())
    assert report.total == 3
    assert [(e.index, e.error) for e in report.errors] == [
        (1, "Invalid email format"),
        (2, "Invalid timestamp"),
    ]


NATIVE = {"EVENT": "sent", "EMAIL": "p@example.org", "TIMESTAMP": 1700000000, "TRANSID": 7}
MIGRATION = {"event": "delivered", "email": "p@example.org", "timestamp": 1700000000}


@pytest.mark.parametrize(
    ("events", "payload_format"),
    [
        ([NATIVE] * 100, "netcore"),
        ([MIGRATION] * 100, "netcore_migration"),
        ([NATIVE, MIGRATION] * 50, "netcore_migration"),
        ([], "netcore"),  # Netcore's check of a new URL
    ],
)
def test_a_plain_netcore_batch_is_checked_without_parsing_it(monkeypatch, events, payload_format):
    def no_parse(body):
        raise AssertionError("parsed")

    monkeypatch.setattr(netcore, "parse", no_parse)
    report = netcore.check(json.dumps(events).encode())
    assert report == BatchReport(len(events), payload_format=payload_format)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"EVENT": "sent", "email": "p@example.org"}, "Mandatory parameter missing: EMAIL"),
        ({"EVENT": "sent", "EMAIL": ""}, "Mandatory parameter missing: EMAIL"),
        ({"EVENT": "", "EMAIL": "p@example.org"}, "Mandatory parameter missing: EVENT"),
        ({"EMAIL": "p@example.org"}, "Mandatory parameter missing: event"),
        ({"email": "p@example.org"}, "Mandatory parameter missing: event"),
        ({"event": "delivered"}, "Mandatory parameter missing: email"),
    ],
)
def test_a_netcore_item_without_its_mandatory_keys_fails_alone(item, message):
    report = netcore.check(json.dumps([NATIVE, item, NATIVE]).encode())
    assert (report.total, report.errors) == (3, (EventError(1, message),))


def test_netcore_times_as_strings_are_read_by_the_parser():
    """Older Netcore samples send TIMESTAMP as a string: valid, but not for the quick check."""
    events = [NATIVE, {**NATIVE, "TIMESTAMP": "1700000000"}, {**NATIVE, "TIMESTAMP": "soon"}]
    report = netcore.check(json.dumps(events).encode())
    assert (report.total, report.errors) == (3, (EventError(2, "Invalid timestamp"),))


@pytest.mark.parametrize("check", [sendgrid.check, netcore.check])
def test_an_esp_batch_past_1000_plain_events_is_accepted_whole(check):
    """SendGrid and Netcore batch by their own rules; seed 003's limit is CleverTap's."""
    events = [{"email": f"p{i}@example.org", "event": "delivered"} for i in range(5000)]
    assert check(json.dumps(events).encode()).total == 5000


@pytest.mark.parametrize("kind", list(PLAIN_EVENTS))
@pytest.mark.parametrize(
    ("email", "errors"),
    [
        ("a@b.org\nc@d.org", (EventError(1, "Invalid email format"),)),
        ("a@b.org\r\nc@d.org", (EventError(1, "Invalid email format"),)),
        ("a@b.org\n\nc@d.org", (EventError(1, "Invalid email format"),)),
        ("a@b.org\n", ()),  # the parser trims the address
        ("\na@b.org", ()),
    ],
)
def test_an_address_with_a_newline_is_failed_by_the_check_as_by_the_parser(kind, email, errors):
    """Joined a line each, such an address would pass the quick check as plain addresses."""
    native = kind == EmailProvider.Kind.NETCORE
    key, event_key, event = ("EMAIL", "EVENT", "sent") if native else ("email", "event", "bounce")
    events = [{key: "ok@example.org", event_key: event} for _ in range(3)]
    events[1][key] = email
    body = json.dumps(events).encode()
    report = KIND_FORMATS[kind].check(body)
    assert report == parsed(kind, body)
    assert report.errors == errors


@contextmanager
def interrupted_after(seconds: float):
    """Raise TimeoutError in the block after `seconds`: a runaway match fails the test."""

    def interrupt(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_odd_address_after_many_dotted_domains_is_found_without_backtracking():
    """Every address matches in five ways; a naive pattern would retry all 5**999 of them."""
    events = [{"email": "a@b.c.d.e.f.org", "event": "delivered"}] * 999
    events.append({"email": "not-an-address", "event": "delivered"})
    with interrupted_after(10):
        report = sendgrid.check(json.dumps(events).encode())
    assert [(e.index, e.error) for e in report.errors] == [(999, "Invalid email format")]


@pytest.mark.parametrize("kind", list(PLAIN_EVENTS))
@pytest.mark.parametrize("offset", [0, 1, 1000, 2150, 2151, 2152])
@pytest.mark.parametrize("digits", [4300, 4301, 9000])
def test_an_integer_too_long_for_python_is_found_in_a_field_the_check_skips(kind, offset, digits):
    """The parser reads with Python's json, which refuses an integer of more digits than
    `sys.get_int_max_str_digits()`; msgspec skips such a field without reading the number."""
    body = b'[{"email": "p@example.org", "event": "delivered", "EVENT": "sent", "EMAIL": '
    body += b'"p@example.org", "x": "%s", "y": %s}]' % (b"a" * offset, b"9" * digits)
    assert outcome(KIND_FORMATS[kind].check, body) == parsed(kind, body)
