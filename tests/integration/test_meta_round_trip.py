"""The meta value an adapter sends is the one the matching callback parser reads back."""

import json

from callbacks.formats.netcore import FORMAT as netcore_parser
from callbacks.formats.sendgrid import FORMAT as sendgrid_parser
from providers.adapters.base import Envelope
from providers.adapters.netcore import NetcoreAdapter
from providers.adapters.sendgrid import SendGridAdapter
from tests.factories import EmailProviderFactory

META = "ada@example.org|42|7"


def envelope() -> Envelope:
    return Envelope(
        to="ada@example.org",
        subject="Hello",
        text="Hi",
        html="",
        from_address="news@example.com",
        from_name="News",
        reply_to="",
        meta=META,
    )


def test_sendgrid_custom_args_come_back_as_the_events_meta(db):
    provider = EmailProviderFactory(sendgrid=True)
    body = SendGridAdapter(provider).payload(envelope())
    # SendGrid's event webhook flattens the message's custom args into every event (§1.4).
    event = {
        "email": "ada@example.org",
        "event": "delivered",
        "timestamp": 1700000000,
        "sg_event_id": "ev-1",
        **body["custom_args"],
    }
    [parsed] = sendgrid_parser.parse(json.dumps([event]).encode())
    assert parsed.meta == META


def test_netcore_token_to_comes_back_as_the_events_meta(db):
    provider = EmailProviderFactory(netcore=True)
    body = NetcoreAdapter(provider).payload(envelope())
    # Netcore echoes the personalization's token_to as X-APIHEADER (§2.2).
    event = {
        "TRANSID": "1",
        "EMAIL": "ada@example.org",
        "EVENT": "sent",
        "TIMESTAMP": 1700000000,
        "X-APIHEADER": body["personalizations"][0]["token_to"],
    }
    [parsed] = netcore_parser.parse(json.dumps([event]).encode())
    assert parsed.meta == META
