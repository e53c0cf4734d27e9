"""Checkers: the endpoint's answer comes from a body's check, the worker's events from its parse.

Whatever the body, a format's checker must say what its parser would: the same count, the
same errors, the same refusal. SendGrid's checker reads plain batches in C and hands anything
else to the parser, so the properties mix plain events with hostile ones.
"""

import json
import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbacks.parsers import CHECKERS, PARSERS, BatchReport, MalformedPayload, sendgrid
from callbacks.parsers.base import MAX_SECONDS
from providers.models import EmailProvider
from tests.callback_strategies import FORMAT_BODIES, dumps, json_trees, sendgrid_bodies

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_+", min_size=1, max_size=12)
plain_emails = st.builds(lambda local, domain: f"{local}@{domain}.org", label, label)
plain_events = st.fixed_dictionaries(
    {
        "email": plain_emails,
        "event": st.sampled_from(["delivered", "bounce", "dropped", "spamreport", "open"]),
        "timestamp": st.integers(0, MAX_SECONDS),
        "sg_event_id": label,
    },
    optional={"type": st.sampled_from(["bounce", "blocked"]), "reason": label},
)


@st.composite
def mostly_plain_sendgrid_bodies(draw):
    """Plain events, now and then one from the hostile strategy at a random place."""
    events = draw(st.lists(plain_events, max_size=20))
    if draw(st.booleans()):
        [odd, *_] = draw(sendgrid_bodies().filter(bool))
        events.insert(draw(st.integers(0, len(events))), odd)
    return events


def outcome(check, body: bytes):
    try:
        return check(body)
    except MalformedPayload as exc:
        return ("refused", str(exc))


def parsed(kind, body: bytes):
    return outcome(lambda b: PARSERS[kind](b).report(), body)


@pytest.mark.parametrize("kind", list(CHECKERS))
@PROPERTY
@given(data=st.data())
def test_every_checker_says_what_its_parser_says(kind, data):
    strategy = FORMAT_BODIES.get(kind, FORMAT_BODIES[EmailProvider.Kind.SMTP]) | json_trees
    body = dumps(data.draw(strategy))
    assert outcome(CHECKERS[kind], body) == parsed(kind, body)


@PROPERTY
@given(events=mostly_plain_sendgrid_bodies())
def test_the_sendgrid_check_says_what_the_parse_says(events):
    body = dumps(events)
    assert outcome(sendgrid.check, body) == parsed(EmailProvider.Kind.SENDGRID, body)


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
    assert report == BatchReport(1000, payload_format=sendgrid.FORMAT)


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


def test_too_many_plain_events_are_refused_whole():
    events = [{"email": "p@example.org", "event": "delivered"}] * 1001
    with pytest.raises(MalformedPayload, match="More than allowed events were sent"):
        sendgrid.check(json.dumps(events).encode())


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
