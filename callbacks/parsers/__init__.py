"""One parser and one checker per callback format, picked by the provider's kind.

Each parser module exposes ``parse(body: bytes) -> ParsedBatch`` (a ``list[CallbackEvent]``
with the per-event errors alongside) and raises ``MalformedPayload`` for a body it cannot
accept. A checker returns what the answer needs, ``parse(body).report()``; a module may offer
a quicker ``check`` (SendGrid and Netcore do), otherwise `full_check` parses. Adding an ESP:
a module here, one entry in ``PARSERS`` and ``CHECKERS``, a payload table in
``tests/callbacks/payloads/``.
"""

from collections.abc import Callable

from providers.models import EmailProvider

from . import generic_v2, legacy_bounce, mailgun, netcore, sendgrid
from .base import (
    MAX_EVENTS,
    BatchReport,
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
    EmailProvider.Kind.MAILGUN: mailgun.parse,
}


Checker = Callable[[bytes], BatchReport]


def full_check(parser: Parser) -> Checker:
    """A checker that parses the whole body, for a format without a quicker one."""

    def check(body: bytes) -> BatchReport:
        return parser(body).report()

    return check


CHECKERS: dict[str, Checker] = {
    EmailProvider.Kind.SMTP: full_check(parse_clevertap),
    EmailProvider.Kind.GMAIL: full_check(parse_clevertap),
    EmailProvider.Kind.SENDGRID: sendgrid.check,
    EmailProvider.Kind.NETCORE: netcore.check,
    EmailProvider.Kind.MAILGUN: mailgun.check,
}


def parser_for(provider: EmailProvider) -> Parser:
    return PARSERS[provider.kind]


def checker_for(provider: EmailProvider) -> Checker:
    return CHECKERS[provider.kind]


__all__ = [
    "CHECKERS",
    "MAX_EVENTS",
    "PARSERS",
    "BatchReport",
    "CallbackEvent",
    "EventError",
    "MalformedPayload",
    "ParsedBatch",
    "checker_for",
    "full_check",
    "parse_clevertap",
    "parser_for",
]
