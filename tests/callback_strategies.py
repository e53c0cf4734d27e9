"""Hypothesis strategies for callback bodies of every format, hostile ones included, and
large realistic ESP batches."""

import json

from hypothesis import strategies as st

from callbacks.formats.base import MAX_SECONDS
from providers.models import EmailProvider

KEYS = [
    "version", "events", "success", "failed", "event", "type", "email", "meta", "description",
    "data", "e", "ts", "timestamp", "sg_event_id", "sg_message_id", "reason", "status",
    "asm_group_id", "response", "EVENT", "EMAIL", "TIMESTAMP", "TRANSID", "RESPONSE",
    "X-APIHEADER", "BOUNCE_TYPE",
]  # fmt: skip
EVENT_WORDS = [
    "delivered", "hard_bounce", "soft_bounce", "spam", "unsubscribed", "bounce", "dropped",
    "spamreport", "unsubscribe", "group_unsubscribe", "processed", "deferred", "open",
    "softbounce", "hardbounce", "sent", "bounced", "invalid", "abuse", "opened", "v2",
    "DELIVERED", "Hard_Bounce", "SPAM", "Bounce", "",
]  # fmt: skip

huge_ints = st.integers(min_value=-(2**128), max_value=2**128) | st.sampled_from(
    [2**63, -(2**63) - 1, 10**400, 253402300800, 10**20]
)
scalars = (
    st.none()
    | st.booleans()
    | huge_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(EVENT_WORDS)
)
json_trees = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


def deep(depth: int, leaf):
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"x": value}
    return value


wrong_values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3)
    | st.integers(min_value=50, max_value=400).map(lambda depth: deep(depth, "a@example.org"))
)

ascii_word = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1)
unicode_word = st.text(
    st.characters(categories=["Lu", "Ll", "Nd"], exclude_characters="\u0130"),
    min_size=1,
    max_size=12,
)
odd_emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    unicode_word | ascii_word.map(lambda w: w[:20]),
    unicode_word | ascii_word.map(lambda w: w[:20]),
    st.sampled_from(["org", "COM", "Org", "xn--p1ai", "рф", "museum"]),
)
weird_emails = st.sampled_from(
    [
        "", " ", "@", "a@b", "a@@b.org", "a@b.org.", "a@.org", "@b.org", "a b@c.org",
        "a\u0000@b.org", "\ud800@b.org", "a@b.org\n", "\u200b@b.org", "x" * 300 + "@b.org",
        "ÜNÏ@EXÄMPLE.ORG", "Ada@Example.ORG", " padded@example.org ", "a@b.org\nc@d.org",
        "a@b.org\r\nc@d.org", "\na@b.org",
    ]
)  # fmt: skip
emails = odd_emails | weird_emails | wrong_values


def smtp_event(kind_word, email, meta, extra):
    return {"type": kind_word, "email": email, "meta": meta, **extra}


@st.composite
def generic_v2_bodies(draw):
    items = draw(
        st.lists(
            st.builds(
                smtp_event,
                st.sampled_from(EVENT_WORDS) | wrong_values,
                emails,
                st.text(max_size=20) | wrong_values,
                st.dictionaries(st.sampled_from(KEYS), wrong_values, max_size=2),
            ),
            max_size=8,
        )
    )
    if draw(st.booleans()):
        split = draw(st.integers(0, len(items)))
        events = {"success": items[:split], "failed": items[split:]}
        if draw(st.booleans()):
            events[draw(st.sampled_from(["other", "failed", "success"]))] = draw(wrong_values)
        return {"version": draw(st.sampled_from(["v2", "V2", "v1", None, 2])), "events": events}
    return [{"version": "v2", "event": "failed", **item} for item in items]


@st.composite
def legacy_bodies(draw):
    groups = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "event": st.sampled_from(
                        ["softbounce", "hardbounce", "unsubscribe", "HARDBOUNCE"]
                    )
                    | wrong_values,
                    "data": st.lists(
                        st.fixed_dictionaries(
                            {"e": emails},
                            optional={"ts": huge_ints | wrong_values, "reason": wrong_values},
                        ),
                        max_size=5,
                    )
                    | wrong_values,
                }
            ),
            max_size=4,
        )
    )
    return groups


@st.composite
def sendgrid_bodies(draw):
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {"event": st.sampled_from(EVENT_WORDS) | wrong_values, "email": emails},
                optional={
                    "timestamp": huge_ints | wrong_values,
                    "sg_event_id": st.text(max_size=30) | wrong_values,
                    "sg_message_id": wrong_values,
                    "type": st.sampled_from(["bounce", "blocked"]) | wrong_values,
                    "status": st.sampled_from(["5.1.1", "4.2.2"]) | wrong_values,
                    "reason": st.sampled_from(["Invalid", "Bounced Address"]) | wrong_values,
                    "asm_group_id": wrong_values,
                    "meta": wrong_values,
                },
            ),
            max_size=8,
        )
    )


@st.composite
def netcore_bodies(draw):
    native = st.fixed_dictionaries(
        {"EVENT": st.sampled_from(EVENT_WORDS) | wrong_values, "EMAIL": emails},
        optional={
            "TRANSID": huge_ints | wrong_values,
            "TIMESTAMP": huge_ints | wrong_values,
            "RESPONSE": wrong_values,
            "X-APIHEADER": wrong_values,
            "BOUNCE_TYPE": st.sampled_from(["SOFTBOUNCE", "HARDBOUNCE"]) | wrong_values,
        },
    )
    migration = st.fixed_dictionaries(
        {"event": st.sampled_from(EVENT_WORDS) | wrong_values, "email": emails},
        optional={"timestamp": huge_ints | wrong_values, "sg_message_id": wrong_values},
    )
    return draw(st.lists(native | migration, max_size=8))


FORMAT_BODIES = {
    EmailProvider.Kind.SMTP: generic_v2_bodies() | legacy_bodies(),
    EmailProvider.Kind.SENDGRID: sendgrid_bodies(),
    EmailProvider.Kind.NETCORE: netcore_bodies(),
}


def dumps(value, *, ensure_ascii: bool = True) -> bytes:
    # allow_nan: Python writes NaN / Infinity literals, which json.loads accepts again.
    text = json.dumps(value, allow_nan=True, ensure_ascii=ensure_ascii)
    return text.encode("utf-8", "surrogatepass")


# --- ESP bodies as the plain parses read them: every field an event is made of -------------

plain_label = st.text("abcdefghijklmnopqrstuvwxyzADEZ0123456789-_+", min_size=1, max_size=12)
plain_addresses = st.builds(
    lambda local, domain: f"{local}@{domain}.org", plain_label, plain_label
) | st.sampled_from(['a"b@c.org', "a\\b@c.org", "a@b@c.org", "x@-.org", "{~}@b..c", "A@B.ORG"])
plain_times = st.integers(0, MAX_SECONDS)
# What an ESP's text fields hold: its words, any text, and strings JSON must escape (a quote, a
# backslash, a line break, NUL), which leave some bodies to the general parse.
field_texts = (
    st.sampled_from(
        [
            "", "250 OK", "Bounced Address", "Invalid", "invalid", "blocked", "bounce",
            "SOFTBOUNCE", "HARDBOUNCE", "soft", "4.2.2", "5.1.1", "Spam Content", 'say "hi"',
            "back\\slash", "a\nb", "nul\x00", "é", "😀", "\u2028", " padded ", "İ",
        ]
    )
    | st.text(max_size=12)
)  # fmt: skip
readable_texts = field_texts | st.none()
readable_ids = readable_texts | st.integers(-(2**70), 2**70)

readable_sendgrid_events = st.fixed_dictionaries(
    {"email": plain_addresses, "event": st.sampled_from(EVENT_WORDS) | field_texts},
    optional={
        "timestamp": plain_times | st.none(),
        "sg_event_id": readable_texts,
        "sg_message_id": readable_texts,
        "meta": readable_texts,
        "reason": readable_texts,
        "type": readable_texts,
        "status": readable_texts,
        "asm_group_id": readable_ids,
        "response": readable_texts,
        "smtp-id": readable_texts,
        "category": st.lists(field_texts, max_size=2),
    },
)
readable_netcore_events = st.fixed_dictionaries(
    {"EMAIL": plain_addresses, "EVENT": st.sampled_from(EVENT_WORDS) | field_texts},
    optional={
        "TRANSID": readable_ids,
        "TIMESTAMP": plain_times | st.none(),
        "X-APIHEADER": readable_texts,
        "BOUNCE_TYPE": readable_texts,
        "BOUNCE_REASON": readable_texts,
        "RESPONSE": readable_texts,
        "MSIZE": readable_ids,
    },
) | st.fixed_dictionaries(
    {"email": plain_addresses, "event": st.sampled_from(EVENT_WORDS) | field_texts},
    optional={
        "sg_message_id": readable_ids,
        "timestamp": plain_times | st.none(),
        "meta": readable_texts,
        "X-APIHEADER": readable_texts,
        "reason": readable_texts,
        "response": readable_texts,
        "type": readable_texts,
        "bounce_type": readable_texts,
    },
)
readable_v2_items = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["delivered", "soft_bounce", "hard_bounce", "spam", "unsubscribed"]
        ),
        "email": plain_addresses,
        "meta": field_texts.filter(bool),
    },
    optional={"description": readable_texts},
)


@st.composite
def readable_generic_v2_bodies(draw):
    """Nested or flat, with as many items as the 1000-event limit now and then."""
    items = draw(st.lists(readable_v2_items, max_size=8))
    if items and draw(st.integers(0, 4)) == 0:
        count = draw(st.sampled_from([999, 1000, 1001]))
        items = (items * count)[:count]
    if draw(st.booleans()):
        return [{"version": "v2", "event": "failed", **item} for item in items]
    split = draw(st.integers(0, len(items)))
    return {"version": "v2", "events": {"success": items[:split], "failed": items[split:]}}


READABLE_BODIES = {
    EmailProvider.Kind.SENDGRID: st.lists(readable_sendgrid_events, max_size=12),
    EmailProvider.Kind.NETCORE: st.lists(readable_netcore_events, max_size=12),
    EmailProvider.Kind.SMTP: readable_generic_v2_bodies(),
}


@st.composite
def mostly_readable_bodies(draw, kind):
    """A readable body, now and then with one event made odd: a field of any value, an extra
    key, or an event from the hostile strategy."""
    body = draw(READABLE_BODIES[kind])
    events = body if isinstance(body, list) else body["events"]["failed"]
    if not events or draw(st.booleans()):
        return body
    index = draw(st.integers(0, len(events) - 1))
    odd = draw(st.sampled_from(["field", "extra", "hostile"]))
    if odd == "hostile":
        [events[index], *_] = draw(FORMAT_BODIES[kind].filter(lambda b: isinstance(b, list) and b))
    else:
        key = draw(
            st.sampled_from(sorted(events[index])) if odd == "field" else st.text(max_size=8)
        )
        events[index] = {**events[index], key: draw(wrong_values | emails)}
    return body


def sendgrid_events(count: int) -> list[dict]:
    """SendGrid events with the fields its webhook sends (reference §1.4), ~600 bytes each."""
    return [
        {
            "email": f"reader{i}@example.com",
            "timestamp": 1700000000 + i,
            "smtp-id": f"<{i:024d}@ismtpd0001p1lon1.sendgrid.net>",
            "event": "bounce" if i % 10 == 0 else "delivered",
            "category": ["newsletter", "weekly-digest"],
            "sg_event_id": f"sg-event-{i:016d}-ZGVsaXZlcmVkLTAtMjQ0OTA",
            "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.{i}",
            "response": "250 2.0.0 OK 1700000000 d2si1234567qkb.123 - gsmtp",
            "status": "5.1.1" if i % 10 == 0 else "",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist"
            if i % 10 == 0
            else "",
            "type": "bounce" if i % 10 == 0 else "",
            "tls": 1,
            "ip": "168.1.1.1",
            "meta": f"reader{i}@example.com|1568798080|1730714617|20241104|0|wzrk_default|-1700|",
            "marketing_campaign_id": 12345,
            "marketing_campaign_name": "Weekly digest",
        }
        for i in range(count)
    ]


def netcore_events(count: int) -> list[dict]:
    return [
        {
            "TRANSID": 1700000000000 + i,
            "EMAIL": f"reader{i}@example.com",
            "EVENT": "bounced" if i % 10 == 0 else "sent",
            "TIMESTAMP": 1700000000 + i,
            "RESPONSE": "250 OK",
            "X-APIHEADER": f"reader{i}@example.com|1568798080|1730714617|20241104|0|wzrk|-1|",
            "BOUNCE_TYPE": "HARDBOUNCE" if i % 10 == 0 else "",
        }
        for i in range(count)
    ]
