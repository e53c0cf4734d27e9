from datetime import UTC, datetime

import pytest

from callbacks.formats import MalformedPayload
from callbacks.formats.sendgrid import FORMAT as SENDGRID
from callbacks.models import EventKind

from ..conftest import payload

K = EventKind


def test_real_payload_maps_every_event():
    batch = SENDGRID.parse(payload("sendgrid_events.json"))
    assert batch.payload_format == "sendgrid" and batch.errors == []
    assert [(e.esp_event, e.kind, e.suppress) for e in batch] == [
        ("processed", K.IGNORED, False),
        ("delivered", K.DELIVERED, False),
        ("bounce", K.HARD_BOUNCE, True),
        ("bounce", K.SOFT_BOUNCE, False),
        ("bounce", K.SOFT_BOUNCE, False),
        ("dropped", K.DROPPED, True),
        ("dropped", K.INVALID, True),
        ("dropped", K.DROPPED, False),
        ("spamreport", K.SPAM, True),
        ("unsubscribe", K.UNSUBSCRIBED, True),
        ("group_unsubscribe", K.UNSUBSCRIBED, True),
        ("deferred", K.IGNORED, False),
        ("open", K.IGNORED, False),
        ("click", K.IGNORED, False),
    ]
    delivered = batch[1]
    assert delivered.event_id == "rWVYmVk90MjZJ9iohOBa3w=="
    assert delivered.meta == "ada@example.com|send-42|"
    assert delivered.occurred_at == datetime(2023, 11, 14, 22, 13, 30, tzinfo=UTC)
    assert batch[2].description == "5.0.0 500 unknown recipient"
    assert batch[10].description == "Unsubscribed from group 42"


@pytest.mark.parametrize(
    ("event", "kind", "suppress"),
    [
        ({"event": "bounce", "type": "bounce", "status": "5.1.1"}, K.HARD_BOUNCE, True),
        ({"event": "bounce", "type": "blocked"}, K.SOFT_BOUNCE, False),
        ({"event": "bounce", "status": "4.2.2"}, K.SOFT_BOUNCE, False),
        ({"event": "bounce", "status": "5.0.0"}, K.HARD_BOUNCE, True),
        ({"event": "bounce"}, K.HARD_BOUNCE, True),
        ({"event": "dropped", "reason": "Invalid"}, K.INVALID, True),
        ({"event": "dropped", "reason": "Bounced Address"}, K.DROPPED, True),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, K.DROPPED, True),
        ({"event": "dropped", "reason": "Spam Reporting Address"}, K.DROPPED, True),
        ({"event": "dropped", "reason": "Spam Content"}, K.DROPPED, False),
        ({"event": "dropped", "reason": "Invalid SMTPAPI header"}, K.DROPPED, False),
        ({"event": "dropped", "reason": "Recipient List over Package Quota"}, K.DROPPED, False),
        ({"event": "deferred"}, K.IGNORED, False),
        ({"event": "group_resubscribe"}, K.IGNORED, False),
        ({"event": "brand_new_event"}, K.IGNORED, False),
        ({"event": "SpamReport"}, K.SPAM, True),
    ],
)
def test_mapping_table(event, kind, suppress):
    body = [{"email": "a@example.com", "timestamp": 1700000000, "sg_event_id": "x", **event}]
    (parsed,) = SENDGRID.parse(__import__("json").dumps(body).encode())
    assert (parsed.kind, parsed.suppress) == (kind, suppress)


def test_millisecond_timestamps_are_recognised():
    body = b'[{"email": "a@example.com", "event": "delivered", "timestamp": 1700000000123}]'
    (event,) = SENDGRID.parse(body)
    assert event.occurred_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)


def test_a_bad_timestamp_is_a_per_event_error():
    body = b'[{"email": "a@example.com", "event": "delivered", "timestamp": "yesterday"}]'
    batch = SENDGRID.parse(body)
    assert [(e.index, e.error) for e in batch.errors] == [(0, "Invalid timestamp")]


@pytest.mark.parametrize("timestamp", ["-5", "1" + "0" * 400, "1e999", "true"])
def test_a_timestamp_no_clock_can_show_is_a_per_event_error(timestamp):
    body = b'[{"email": "a@example.com", "event": "delivered", "timestamp": %s}]' % (
        timestamp.encode()
    )
    batch = SENDGRID.parse(body)
    assert [(e.index, e.error) for e in batch.errors] == [(0, "Invalid timestamp")]


def test_without_sg_event_id_the_key_hashes_message_event_email_and_time():
    one = (
        b'[{"email": "a@example.com", "event": "delivered", "timestamp": 1, "sg_message_id": "m"}]'
    )
    two = (
        b'[{"email": "a@example.com", "event": "delivered", "timestamp": 2, "sg_message_id": "m"}]'
    )
    assert SENDGRID.parse(one)[0].dedupe_key != SENDGRID.parse(two)[0].dedupe_key
    assert SENDGRID.parse(one)[0].dedupe_key == SENDGRID.parse(one)[0].dedupe_key


def test_an_object_instead_of_an_array_is_malformed():
    with pytest.raises(MalformedPayload, match="invalid payload"):
        SENDGRID.parse(b'{"email": "a@example.com", "event": "delivered"}')


def test_missing_email_is_a_missing_mandatory_parameter_of_that_event():
    batch = SENDGRID.parse(
        b'[{"event": "delivered", "timestamp": 1}, {"event": "bounce", "email": "a@x.org"}]'
    )
    assert [event.email for event in batch] == ["a@x.org"]
    assert [(e.index, e.error) for e in batch.errors] == [(0, "Mandatory parameter missing: email")]
