"""The callback formats, and which provider kind posts which (STYLE.md, "ESP code").

Each format is a module here with one `Format` subclass (`base.py`): `parse`, `check`,
`verify` and `sample`. `KIND_FORMATS` maps a provider kind to its formats, in the order they
are told apart by shape, and names the one its sample is written in; `named` finds a format by
the name the inbox stores with each batch. The endpoint, the inbox, the sample button and the
contract tests read only this module. Adding an ESP: a module here, one entry in
`KIND_FORMATS`, payload fixtures in ``tests/callbacks/payloads/<format name>_*.json``.
"""

from dataclasses import dataclass

from providers.models import EmailProvider

from . import generic_v2, legacy_bounce, mailgun, netcore, postmark, sendgrid, ses
from .base import (
    MAX_EVENTS,
    BatchReport,
    CallbackEvent,
    EventError,
    Format,
    MalformedPayload,
    ParsedBatch,
    SignatureError,
    load_json,
)
from .mailbox import MAILBOX


@dataclass(frozen=True)
class KindFormats:
    """The formats one provider kind posts: the first that accepts a body reads it."""

    formats: tuple[Format, ...]
    sample_format: Format

    def parse(self, body: bytes) -> ParsedBatch:
        first, *others = self.formats
        if not others:
            return first.parse(body)
        # Each format's plain parse reads only its own shape, so at most one reads the body.
        for fmt in self.formats:
            batch = fmt.plain_parse(body)
            if batch is not None:
                return batch
        data = load_json(body)
        return next(fmt for fmt in self.formats if fmt.accepts(data)).parse_data(data)

    def check(self, body: bytes) -> BatchReport:
        """What the answer to `body` says, through a format's quick check where it has one."""
        first, *others = self.formats
        if not others:
            return first.check(body)
        # Each format's plain check reads only its own shape, so at most one succeeds.
        plain = (fmt.plain_check(body) for fmt in self.formats)
        return next(filter(None, plain), None) or self.parse(body).report()


CLEVERTAP = (generic_v2.FORMAT, legacy_bounce.FORMAT)  # SMTP and Gmail providers, by shape

KIND_FORMATS: dict[str, KindFormats] = {
    EmailProvider.Kind.SMTP: KindFormats(CLEVERTAP, sample_format=generic_v2.FORMAT),
    EmailProvider.Kind.GMAIL: KindFormats(CLEVERTAP, sample_format=legacy_bounce.FORMAT),
    EmailProvider.Kind.SENDGRID: KindFormats((sendgrid.FORMAT,), sample_format=sendgrid.FORMAT),
    EmailProvider.Kind.NETCORE: KindFormats((netcore.FORMAT,), sample_format=netcore.FORMAT),
    EmailProvider.Kind.POSTMARK: KindFormats((postmark.FORMAT,), sample_format=postmark.FORMAT),
    EmailProvider.Kind.SES: KindFormats((ses.FORMAT,), sample_format=ses.FORMAT),
    EmailProvider.Kind.MAILGUN: KindFormats((mailgun.FORMAT,), sample_format=mailgun.FORMAT),
}

FORMATS: tuple[Format, ...] = tuple(
    dict.fromkeys(fmt for entry in KIND_FORMATS.values() for fmt in entry.formats)
)

# Formats the inbox reads that no callback URL accepts: what a bounce mailbox found.
INBOX_ONLY_FORMATS: tuple[Format, ...] = (MAILBOX,)

_BY_NAME: dict[str, Format] = {
    name: fmt for fmt in (*FORMATS, *INBOX_ONLY_FORMATS) for name in (fmt.name, *fmt.names)
}


def formats_for(provider: EmailProvider) -> KindFormats:
    return KIND_FORMATS[provider.kind]


def named(name: str) -> Format:
    """The format that reports batches as `name` (`CallbackLog.payload_format`)."""
    return _BY_NAME[name]


__all__ = [
    "FORMATS",
    "KIND_FORMATS",
    "MAX_EVENTS",
    "BatchReport",
    "CallbackEvent",
    "EventError",
    "Format",
    "KindFormats",
    "MalformedPayload",
    "ParsedBatch",
    "SignatureError",
    "formats_for",
    "named",
]
