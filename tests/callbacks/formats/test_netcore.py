import json
from datetime import UTC, datetime

import pytest

from callbacks.formats.netcore import FORMAT as NETCORE
from callbacks.models import EventKind

from ..conftest import payload

K = EventKind


def test_native_payload():
    batch = NETCORE.parse(payload("netcore_native.json"))
    assert batch.payload_format == "netcore" and batch.errors == []
    assert [(e.esp_event, e.kind) for e in batch] == [
        ("sent", K.DELIVERED),
        ("bounced", K.HARD_BOUNCE),
        ("bounced", K.SOFT_BOUNCE),
        ("bounced", K.HARD_BOUNCE),
        ("dropped", K.DROPPED),
        ("invalid", K.INVALID),
        ("unsubscribed", K.UNSUBSCRIBED),
        ("spam", K.SPAM),
        ("abuse", K.SPAM),
        ("opened", K.IGNORED),
        ("clicked", K.IGNORED),
    ]
    sent = batch[0]
    assert sent.meta == "ada@example.com|send-42|"
    assert sent.event_id == "1234567890123"
    assert sent.occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert batch[1].occurred_at == datetime(2023, 11, 14, 22, 13, 30, tzinfo=UTC)  # string time
    assert batch[1].description == "550 5.1.1 user unknown"


def test_migration_payload():
    batch = NETCORE.parse(payload("netcore_migration.json"))
    assert batch.payload_format == "netcore_migration" and batch.errors == []
    assert [e.kind for e in batch] == [
        K.DELIVERED,
        K.HARD_BOUNCE,
        K.DROPPED,
        K.UNSUBSCRIBED,
        K.SPAM,
        K.IGNORED,
        K.IGNORED,
    ]
    assert batch[2].description.startswith("Email dropped")


def test_no_event_id_so_the_key_hashes_transid_event_email_and_time():
    item = {"TRANSID": 1, "EMAIL": "a@example.com", "EVENT": "sent", "TIMESTAMP": 5}
    first = NETCORE.parse(json.dumps([item]).encode())[0].dedupe_key
    assert NETCORE.parse(json.dumps([{**item, "TIMESTAMP": 6}]).encode())[0].dedupe_key != first
    assert NETCORE.parse(json.dumps([{**item, "MSIZE": 9}]).encode())[0].dedupe_key == first


def test_a_soft_and_a_hard_bounce_of_one_send_at_one_time_are_two_events():
    item = {"TRANSID": 9, "EMAIL": "a@example.com", "EVENT": "bounced", "TIMESTAMP": 5}
    soft, hard = NETCORE.parse(
        json.dumps(
            [{**item, "BOUNCE_TYPE": "SOFTBOUNCE"}, {**item, "BOUNCE_TYPE": "HARDBOUNCE"}]
        ).encode()
    )
    assert (soft.kind, hard.kind) == (K.SOFT_BOUNCE, K.HARD_BOUNCE)
    assert soft.dedupe_key != hard.dedupe_key


def test_the_sample_has_no_two_events_with_one_key():
    keys = [event.dedupe_key for event in NETCORE.parse(NETCORE.sample())]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", ["spam", "abuse", "SPAM", "Abuse"])
def test_spam_and_abuse_both_mean_a_complaint(name):
    body = json.dumps([{"EMAIL": "a@example.com", "EVENT": name, "TIMESTAMP": 1}]).encode()
    assert NETCORE.parse(body)[0].kind == K.SPAM
