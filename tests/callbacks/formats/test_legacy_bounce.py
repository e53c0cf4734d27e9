"""The legacy bounce format (seed 002)."""

import pytest

from callbacks.formats import MalformedPayload
from callbacks.formats.legacy_bounce import FORMAT as LEGACY_BOUNCE
from callbacks.models import EventKind

from ..conftest import payload

K = EventKind


def test_legacy_payload_with_the_unsubscribe_group():
    batch = LEGACY_BOUNCE.parse(payload("legacy_bounce_groups.json"))
    assert [(e.email, e.kind) for e in batch] == [
        ("linus@example.com", K.SOFT_BOUNCE),
        ("margaret@example.com", K.SOFT_BOUNCE),
        ("grace@example.com", K.HARD_BOUNCE),
        ("barbara@example.com", K.UNSUBSCRIBED),
    ]
    assert int(batch[0].occurred_at.timestamp()) == 1435322805


def test_legacy_without_ts_means_now_and_is_deduplicated_on_its_content():
    (event,) = LEGACY_BOUNCE.parse(b'[{"event": "softbounce", "data": [{"e": "a@x.org"}]}]')
    assert event.occurred_at is None
    (replay,) = LEGACY_BOUNCE.parse(b'[{"event": "softbounce", "data": [{"e": "a@x.org"}]}]')
    assert event.dedupe_key and replay.dedupe_key == event.dedupe_key
    (hard,) = LEGACY_BOUNCE.parse(b'[{"event": "hardbounce", "data": [{"e": "a@x.org"}]}]')
    (other,) = LEGACY_BOUNCE.parse(
        b'[{"event": "softbounce", "data": [{"e": "a@x.org", "reason": "quota"}]}]'
    )
    assert len({event.dedupe_key, hard.dedupe_key, other.dedupe_key}) == 3


def test_legacy_group_without_data_is_a_missing_parameter():
    with pytest.raises(MalformedPayload, match="Mandatory parameter missing: data"):
        LEGACY_BOUNCE.parse(b'[{"event": "softbounce"}]')
