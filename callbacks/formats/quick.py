"""What the endpoint's quick checks and the worker's plain parses share: typed msgspec decoding
of a body's plain shape, and the addresses `clean_email` accepts as they are. A check or a
plain parse that meets anything else leaves the body to the general parse, so every answer and
every event is the one the general parse gives."""

import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec

from .base import MAX_SECONDS

# Addresses `clean_email` accepts as they are: printable ASCII without spaces, the domain after
# the last "@" holding a dot that neither starts nor ends it. Stricter than `clean_email`, never
# looser: a `check` parses in full what this refuses, to find out.
_DOMAIN_EDGE = r"[!-\-/-?A-~]"  # printable ASCII but ".", "@" and the space
_PLAIN_EMAIL = rf"[!-~]+@{_DOMAIN_EDGE}[!-?A-~]*\.[!-?A-~]*{_DOMAIN_EDGE}"
# One address per line. Each line is an atomic group: a domain with several dots matches in
# several ways, and without it a refused line would retry every way of matching every earlier
# line, exponentially many.
_PLAIN_EMAIL_LINES = re.compile(rf"(?>{_PLAIN_EMAIL}\n)*+")


# Field types for the quick checks' msgspec Structs: values `parse` reads without error. An
# address must also pass `all_plain_emails`.
CheckedEmail = Annotated[str, msgspec.Meta(max_length=254)]
CheckedWord = Annotated[str, msgspec.Meta(min_length=1)]
CheckedTime = Annotated[int, msgspec.Meta(ge=0, le=MAX_SECONDS)] | None
# A field a plain parse reads for `text` of it: the string as decoded (`decode_plain`), or
# None, which `text` reads as "".
PlainText = str | None

# A string decoded from a body without this escape holds no NUL, and msgspec refuses a lone
# surrogate: `text` keeps every such string as it is.
NUL_ESCAPE = b"\\u0000"
# In a body without any escape no string needs one: json.dumps writes each between quotes as it is.
ANY_ESCAPE = b"\\"


def decode_checked(decoder: msgspec.json.Decoder, body: bytes) -> Any | None:
    """`body` as a quick check's typed `decoder` reads it, or None if it refuses the body."""
    if _may_hold_a_long_integer(body):
        return None
    try:
        body.decode()  # msgspec skips the fields it does not read without checking their UTF-8
        return decoder.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):  # ValidationError, UnicodeError
        return None


def decode_plain(
    decoder: msgspec.json.Decoder, body: bytes, *, escape: bytes = NUL_ESCAPE
) -> Any | None:
    """`decode_checked`, for a plain parse that keeps strings as decoded: None also when the
    body holds `escape`. Every escape starts with a backslash, which is found at memchr's speed,
    so a body without one is not searched again."""
    if ANY_ESCAPE in body and escape in body:
        return None
    return decode_checked(decoder, body)


def plain_times(seconds: list[int | None]) -> list[datetime | None]:
    """`parse_timestamp` of each `CheckedTime` value, converted in C for a sixth of the cost.

    Not strict, msgspec reads an int as Unix seconds in UTC, which is what `parse_timestamp`
    makes of an int from 0 to `MAX_SECONDS`, and keeps None; a checked value meets no other
    lax rule.
    """
    return msgspec.convert(seconds, list[datetime | None], strict=False)


class Memo(dict):
    """`compute(*key)` for each key looked up, computed once: a batch repeats a few
    combinations of an ESP's words (event, bounce type, reason…) across its events."""

    def __init__(self, compute: Callable[..., Any]):
        super().__init__()
        self.compute = compute

    def __missing__(self, key: tuple) -> Any:
        value = self[key] = self.compute(*key)
        return value


def _may_hold_a_long_integer(body: bytes) -> bool:
    """True when `body` may hold an integer longer than Python's int() reads
    (`sys.get_int_max_str_digits`): `load_json` refuses the body, and msgspec skips it unread in
    a field a Struct does not declare.

    A run of more digits than the limit holds a whole slice of a little over half as many that
    starts at a multiple of that length, so those slices are all there is to look at.
    """
    limit = sys.get_int_max_str_digits()
    step = limit // 2 + 1
    slices = range(0, len(body), step)
    return bool(limit) and any(body[start : start + step].isdigit() for start in slices)


def all_plain_emails(emails: list[str]) -> bool:
    """True when `clean_email` would accept every address as it is.

    One match over the addresses a line each (no plain address holds a newline) costs a third
    of a thousand separate matches.
    """
    lines = "\n".join(emails) + "\n" if emails else ""
    if lines.count("\n") != len(emails):  # a newline inside an address would pass as two
        return False
    return _PLAIN_EMAIL_LINES.fullmatch(lines) is not None
