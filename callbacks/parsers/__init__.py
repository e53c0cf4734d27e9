"""One parser per callback format, picked by the provider's kind.

Each parser module exposes ``parse(body: bytes) -> ParsedBatch`` (a ``list[CallbackEvent]``
with the per-event errors alongside) and raises ``MalformedPayload`` for a body it cannot
accept. Adding an ESP: a module here, one entry in ``PARSERS``, a payload table in
``tests/callbacks/payloads/``.
"""

from collections.abc import Callable

from providers.models import EmailProvider

from . import generic_v2, legacy_bounce, netcore, sendgrid
from .base import (
    MAX_EVENTS,
    CallbackEvent,
    EventError,
    MalformedPayload,
    ParsedBatch,
    load_json,
)


def parse_clevertap(body: bytes) -> ParsedBatch:
    """SMTP and Gmail providers: the generic v2 format or the legacy bounce array, by shape."""
    data = load_json(body)
    if isinstance(data, list) and not data:
        return ParsedBatch(payload_format=generic_v2.FORMAT)
    if generic_v2.looks_like(data):
        return generic_v2.parse_data(data)
    return legacy_bounce.parse_data(data)


Parser = Callable[[bytes], ParsedBatch]

PARSERS: dict[str, Parser] = {
    EmailProvider.Kind.SMTP: parse_clevertap,
    EmailProvider.Kind.GMAIL: parse_clevertap,
    EmailProvider.Kind.SENDGRID: sendgrid.parse,
    EmailProvider.Kind.NETCORE: netcore.parse,
}


def parser_for(provider: EmailProvider) -> Parser:
    return PARSERS[provider.kind]


__all__ = [
    "MAX_EVENTS",
    "PARSERS",
    "CallbackEvent",
    "EventError",
    "MalformedPayload",
    "ParsedBatch",
    "parse_clevertap",
    "parser_for",
]
