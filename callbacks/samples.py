"""Sample callback bodies in each provider's own format, for the "Send a sample callback" button.

Every event names the sandbox address `SAMPLE_EMAIL` (the reserved `.invalid` top-level domain,
RFC 2606), so no real recipient can be involved; the sample is also applied in a transaction
that is rolled back (see `views.process_callback`).
"""

import json
import time
import uuid

from providers.models import EmailProvider

SAMPLE_EMAIL = "sample@postdesk.invalid"


def sample_body(provider: EmailProvider) -> bytes:
    if provider.kind == EmailProvider.Kind.MAILGUN:
        from .parsers import mailgun

        return mailgun.sample(provider)  # signed with the provider's key
    builders = {
        EmailProvider.Kind.SMTP: _generic_v2,
        EmailProvider.Kind.GMAIL: _legacy_bounce,
        EmailProvider.Kind.SENDGRID: _sendgrid,
        EmailProvider.Kind.NETCORE: _netcore,
    }
    return json.dumps(builders[provider.kind]()).encode()


def _generic_v2() -> dict:
    meta = f"{SAMPLE_EMAIL}|{int(time.time())}|sample|{uuid.uuid4().hex[:12]}|"
    return {
        "version": "v2",
        "events": {
            "success": [{"type": "delivered", "email": SAMPLE_EMAIL, "meta": meta}],
            "failed": [
                {
                    "type": "soft_bounce",
                    "email": SAMPLE_EMAIL,
                    "meta": meta,
                    "description": "Sample: mailbox full",
                },
                {
                    "type": "hard_bounce",
                    "email": SAMPLE_EMAIL,
                    "meta": meta,
                    "description": "Sample: mailbox does not exist",
                },
            ],
        },
    }


def _legacy_bounce() -> list:
    now = int(time.time())
    return [
        {"event": "softbounce", "data": [{"e": SAMPLE_EMAIL, "ts": now}]},
        {"event": "hardbounce", "data": [{"e": SAMPLE_EMAIL, "ts": now}]},
    ]


def _sendgrid() -> list:
    now = int(time.time())
    message_id = f"sample{uuid.uuid4().hex[:10]}.filter0001.0"

    def event(name: str, **extra) -> dict:
        return {
            "email": SAMPLE_EMAIL,
            "timestamp": now,
            "event": name,
            "sg_event_id": uuid.uuid4().hex,
            "sg_message_id": message_id,
            **extra,
        }

    return [
        event("delivered", response="250 OK"),
        event("bounce", type="blocked", status="4.2.2", reason="Sample: mailbox full"),
        event("bounce", type="bounce", status="5.1.1", reason="Sample: no such user"),
        event("open", useragent="Sample"),
    ]


def _netcore() -> list:
    now = int(time.time())
    transid = str(int(time.time() * 1000))

    def event(name: str, **extra) -> dict:
        return {
            "TRANSID": transid,
            "EMAIL": SAMPLE_EMAIL,
            "EVENT": name,
            "TIMESTAMP": now,
            "X-APIHEADER": "sample",
            **extra,
        }

    return [
        event("sent", RESPONSE="250 OK"),
        event("bounced", BOUNCE_TYPE="SOFTBOUNCE", RESPONSE="Sample: mailbox full"),
        event("bounced", BOUNCE_TYPE="HARDBOUNCE", RESPONSE="Sample: no such user"),
        event("opened"),
    ]
