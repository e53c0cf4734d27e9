"""Whatever an ESP (or anyone holding the URL) sends, the answer is never a 500."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks.formats import KIND_FORMATS, MalformedPayload
from callbacks.formats.base import load_json
from callbacks.models import CallbackLog
from providers.models import EmailProvider

from .conftest import post, webhook_credentials

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "event",
                    "email",
                    "EVENT",
                    "EMAIL",
                    "type",
                    "meta",
                    "version",
                    "events",
                    "data",
                    "e",
                    "ts",
                    "timestamp",
                    "TIMESTAMP",
                    "reason",
                    "status",
                    "success",
                    "failed",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@pytest.mark.parametrize("kind", list(EmailProvider.Kind))
@settings(max_examples=150, deadline=None)
@given(data=json_values)
def test_parsers_raise_only_malformed_payload(kind, data):
    body = json.dumps(data).encode()
    try:
        batch = KIND_FORMATS[kind].parse(body)
    except MalformedPayload:
        return
    assert batch.total == len(batch) + len(batch.errors)


def read_as_the_standard_library_does(body: bytes) -> str:
    try:
        return repr(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "refused"


def read_with_load_json(body: bytes) -> str:
    try:
        return repr(load_json(body))
    except MalformedPayload:
        return "refused"


@settings(max_examples=300, deadline=None)
@given(
    body=json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode())
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=40)
    | st.text(alphabet='[]{}",:.-+eE0123456789\\ nulltruefalseNaN\ud800', max_size=40).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    )
)
def test_bodies_are_read_as_the_standard_library_reads_them(body):
    """The fast JSON reader never changes a value or what is refused."""
    assert read_with_load_json(body) == read_as_the_standard_library_does(body)


NASTY = [
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps([{"event": "bounce", "email": "a\u0000b@example.com", "timestamp": 1}]).encode(),
    b'[{"event": "bounce", "email": "a@example.com", "reason": "nul \\u0000", "timestamp": 1}]',
    b'[{"event": "bounce", "email": "a@example.com", "reason": "lone \\ud800", "timestamp": 1}]',
    b'[{"event": "bounce", "email": "\\ud800@example.com", "timestamp": 1}]',
    b'[{"event": "delivered", "email": "a@example.com", "timestamp": 1e400}]',
    b'[{"event": "delivered", "email": "a@example.com", "timestamp": -5}]',
    b'[{"event": "delivered", "email": "a@example.com", "timestamp": 99999999999999999999}]',
    b'[{"event": {"nested": true}, "email": ["a@example.com"], "timestamp": []}]',
    b'[{"event": "delivered", "email": "' + b"x" * 300 + b'@example.com", "timestamp": 1}]',
    b'[{"event": "delivered", "email": "a@example.com", "sg_event_id": "' + b"i" * 500 + b'"}]',
    b"[1, 2, 3]",
    b"{}",
    b"\xef\xbb\xbf[]",
    b'[{"event": "delivered", "email": "a@example.com", "meta": 123456789012345678901234567890}]',
    b'[{"event": "delivered", "email": "a@example.com", "timestamp": NaN}]',
    b'[{"\xffevent": "delivered", "email": "a@example.com", "reason": "\xfe"}]',
]


@pytest.mark.parametrize("body", NASTY, ids=range(len(NASTY)))
def test_nasty_bodies_are_read_as_the_standard_library_reads_them(body):
    assert read_with_load_json(body) == read_as_the_standard_library_does(body)


UNSIGNED_ANSWERS = {EmailProvider.Kind.SES: (403,), EmailProvider.Kind.MAILGUN: (406,)}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(EmailProvider.Kind))
@pytest.mark.parametrize("body", NASTY, ids=range(len(NASTY)))
def test_hostile_bodies_never_get_a_500(client, make_provider, kind, body):
    provider = make_provider(kind)
    response = post(client, provider, body, **webhook_credentials(provider))
    # Signed formats refuse an unsigned body first: SNS with 403 (reference part 2, §1.3),
    # Mailgun with the 406 it does not retry.
    assert response.status_code in UNSIGNED_ANSWERS.get(kind, (200, 400))
    assert CallbackLog.objects.get().status_code == response.status_code
