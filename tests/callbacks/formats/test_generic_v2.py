"""Generic v2, both shapes (seed 003)."""

import json

import pytest

from callbacks.formats import KIND_FORMATS, MalformedPayload
from callbacks.formats.generic_v2 import FORMAT as GENERIC_V2
from callbacks.models import EventKind
from providers.models import EmailProvider

from ..conftest import payload

K = EventKind


@pytest.mark.parametrize("name", ["generic_v2_nested.json", "generic_v2_flat.json"])
def test_both_v2_shapes_give_the_same_events(name):
    batch = GENERIC_V2.parse(payload(name))
    assert [(e.email.lower(), e.kind) for e in batch] == [
        ("ada@example.com", K.DELIVERED),
        ("grace@example.com", K.HARD_BOUNCE),
        ("linus@example.com", K.SOFT_BOUNCE),
        ("ken@example.com", K.SPAM),
        ("barbara@example.com", K.UNSUBSCRIBED),
    ]
    assert batch[0].occurred_at is None  # v2 has no time: the time of receipt is used
    assert batch[1].meta.startswith("grace@example.com|1568798080|")


def test_nested_buckets_count_together_and_index_in_body_order():
    batch = GENERIC_V2.parse(payload("generic_v2_partial.json"))
    assert batch.total == 4
    assert [(e.index, e.error) for e in batch.errors] == [
        (1, "Invalid email format"),
        (3, "Could not map event to any bounce type"),
    ]


def test_v2_dedupe_key_is_the_whole_item():
    item = {
        "version": "v2",
        "event": "failed",
        "type": "soft_bounce",
        "email": "a@x.org",
        "meta": "m",
        "description": "mailbox full",
    }

    def key(data):
        return GENERIC_V2.parse(json.dumps(data).encode())[0].dedupe_key

    replay = dict(reversed(item.items()))  # the same item, its keys in another order
    assert key(replay) == key(item)
    for other in [
        {**item, "description": "mailbox full again"},
        {**item, "timestamp": 1700000000},
        {**item, "meta": "m2"},
        {**item, "type": "hard_bounce"},
        {**item, "email": "b@x.org"},
    ]:
        assert key(other) != key(item), other


@pytest.mark.parametrize(
    "data",
    [
        {"version": "v1", "events": {"failed": []}},
        {"version": "v2", "events": ["not", "buckets"]},
        {"version": "v2", "events": {"failed": "nope"}},
        [{"version": "v3", "event": "failed", "type": "spam", "email": "a@x.org", "meta": "m"}],
    ],
)
def test_wrong_version_or_shape_is_invalid_payload(data):
    with pytest.raises(MalformedPayload):
        KIND_FORMATS[EmailProvider.Kind.SMTP].parse(json.dumps(data).encode())


def test_nested_sample_without_version_is_a_missing_parameter():
    with pytest.raises(MalformedPayload, match="Mandatory parameter missing: version"):
        GENERIC_V2.parse(b'{"events": {"failed": []}}')
