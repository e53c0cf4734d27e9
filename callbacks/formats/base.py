"""What every callback format shares: the `Format` base class, the normalised event, the
errors, JSON and field helpers.

A format turns the raw body an ESP posted into a `ParsedBatch`: the events it could read, in
body order, plus one `EventError` per item it could not. Its `check` finds only what the answer
needs, a `BatchReport`: how many items, which could not be read. The endpoint checks a body and
stores it; the worker that applies it parses it. Parsing and checking are pure — no ORM, no
request — so they are tested with bytes alone. Something wrong with the body as a whole (not
JSON, the wrong shape, a mandatory key missing, too many events) raises `MalformedPayload`,
whose message is what the 400 answer says (seed 003, "Response Codes").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

from callbacks.models import EventKind
from profiles.models import normalize_email

# Seed 003: "more than 1000 events are sent in a single API call" → 400. CleverTap's own formats
# only (generic v2, legacy) set it as their `max_events`: SendGrid and Netcore batch by their own
# rules, and their batches are taken whole within CALLBACK_MAX_BODY_BYTES.
MAX_EVENTS = 1000
# Deepest nesting read inside one item; deeper is not a callback (and would reach Python's
# recursion limit, at a depth that depends on the caller's stack).
MAX_ITEM_DEPTH = 100

INVALID_PAYLOAD = "invalid payload"
TOO_MANY_EVENTS = "More than allowed events were sent"
UNMAPPED_EVENT = "Could not map event to any bounce type"
INVALID_EMAIL = "Invalid email format"
INVALID_TIMESTAMP = "Invalid timestamp"

MAX_SECONDS = 100_000_000_000  # larger Unix times are milliseconds (year 5138 in seconds)

# Kinds that make an address Inactive (reference §7). A dropped event may opt out when the
# sender, not the recipient, caused the drop: the format decides through `suppress`.
SUPPRESSING_KINDS = frozenset(
    {
        EventKind.HARD_BOUNCE,
        EventKind.DROPPED,
        EventKind.INVALID,
        EventKind.SPAM,
        EventKind.UNSUBSCRIBED,
    }
)


class MalformedPayload(ValueError):
    """The body as a whole cannot be accepted; the message is the 400 body's `message`."""


class SignatureError(Exception):
    """The request is not signed by the key the user configured; answered 403."""


@dataclass(frozen=True, slots=True)
class EventError:
    """One item of the body that could not be read; the rest of the batch still applies."""

    index: int
    error: str


class CallbackEvent(msgspec.Struct, gc=False):
    """One ESP event, normalised; read-only by convention.

    A msgspec Struct: a request builds a thousand of them, and a slots dataclass cost twice as
    much to build. The garbage collector does not track them (`gc=False`): an event holds only
    strings, a datetime and flags, so it is never part of a cycle. The inbox stores the body
    the ESP posted, not events: a worker parses it again to apply it (`callbacks.inbox`).

    `occurred_at` is None when the format carries no time (generic v2): the service then uses
    the time of receipt. `dedupe_key` identifies the event across retries: the ESP's event id
    when it has one, otherwise a hash of the fields §7 names. `esp_event` is the ESP's own word.
    """

    email: str
    kind: EventKind
    occurred_at: datetime | None
    dedupe_key: str
    meta: str = ""
    description: str = ""
    event_id: str = ""
    esp_event: str = ""
    suppress: bool = False


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What the answer to a body says: how many items it had, which could not be read, its
    format."""

    total: int
    errors: tuple[EventError, ...] = ()
    payload_format: str = ""

    @property
    def readable(self) -> int:
        return self.total - len(self.errors)


class ParsedBatch(list):
    """The readable events of one body (a `list[CallbackEvent]`), with what could not be read.

    `total` counts every item in the body, readable or not; `errors` are in body order.
    """

    def __init__(self, events=(), *, errors=(), total: int | None = None, payload_format=""):
        super().__init__(events)
        self.errors: list[EventError] = list(errors)
        self.total = len(self) + len(self.errors) if total is None else total
        self.payload_format = payload_format

    def report(self) -> BatchReport:
        return BatchReport(self.total, tuple(self.errors), self.payload_format)


class Format:
    """One ESP callback format: a subclass says how a body splits into items and how one item
    becomes one event; this class owns the rest.

    `parse` reads the body, splits it (`items`), applies `max_events`, lets `require` refuse
    the whole batch for an item, then turns each item into an event (`event`), an `ItemError`
    becoming that item's `EventError` while the rest of the batch still applies; a subclass's
    `plain_parse` may read a plain body quicker, to the same result. `check` is the answer
    alone (a subclass may find it quicker); `verify` refuses a request the ESP did not sign;
    `sample` is the body the "Send sample callback" button posts.
    """

    name: ClassVar[str]  # stored with each batch (`CallbackLog.payload_format`)
    names: ClassVar[tuple[str, ...]] = ()  # further payload formats it reports, if any
    max_events: ClassVar[int | None] = None
    kinds: ClassVar[Mapping[str, EventKind]]  # the ESP's event words → ours

    def parse(self, body: bytes) -> ParsedBatch:
        batch = self.plain_parse(body)
        return self.parse_data(load_json(body)) if batch is None else batch

    def plain_parse(self, body: bytes) -> ParsedBatch | None:
        """`parse(body)` when found without the general parse, else None; by default, None.

        The general parse stays the one source of truth: a plain parse reads only the bodies
        whose every event it knows to come out the same.
        """
        return None

    def parse_data(self, data: Any) -> ParsedBatch:
        items = self.items(data)
        if self.max_events is not None and len(items) > self.max_events:
            raise MalformedPayload(TOO_MANY_EVENTS)
        for item in items:
            self.require(item)
        events, errors = [], []
        for index, item in enumerate(items):
            try:
                events.append(self.event(item))
            except ItemError as exc:
                errors.append(EventError(index, str(exc)))
        return ParsedBatch(
            events, errors=errors, total=len(items), payload_format=self.format_of(items)
        )

    def check(self, body: bytes) -> BatchReport:
        """What the answer to `body` says: `parse(body).report()`, unless found quicker."""
        return self.parse(body).report()

    def plain_check(self, body: bytes) -> BatchReport | None:
        """`check(body)` when found without a full parse, else None; by default, None."""
        return None

    def accepts(self, data: Any) -> bool:
        """True when this format reads `data`, for a kind whose formats are told apart by
        shape; the last format of a kind takes whatever the others leave."""
        return True

    def verify(self, provider, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise `SignatureError` unless the ESP sent the request; most formats cannot tell."""

    def sample(self) -> bytes:
        """A body in this format naming only `SAMPLE_EMAIL`, for the sample-callback button."""
        return json.dumps(self.sample_data()).encode()

    def sample_for(self, provider) -> bytes:
        """The sample for `provider`: signed with its key by a format whose bodies are signed."""
        return self.sample()

    def sample_data(self) -> Any:
        raise NotImplementedError

    def items(self, data: Any) -> list:
        """The body's items in order; by default the body is a JSON array of them."""
        if not isinstance(data, list):
            raise MalformedPayload(INVALID_PAYLOAD)
        return data

    def require(self, item: Any) -> None:
        """Refuse the whole batch for `item` (raise `MalformedPayload`); by default, never."""

    def event(self, item: Any) -> CallbackEvent:
        """One item → one event; raise `ItemError` for an item that cannot be read."""
        raise NotImplementedError

    def format_of(self, items: list) -> str:
        """The payload format to store with the batch."""
        return self.name


# Every sample event names this sandbox address (the reserved `.invalid` top-level domain,
# RFC 2606), so no real recipient can be involved; a sample is also applied in a transaction
# that is rolled back (see `callbacks.receive.process_callback`).
SAMPLE_EMAIL = "sample@postdesk.invalid"


# --- helpers used by the format modules -----------------------------------------------------


_fast_json = msgspec.json.Decoder()


def load_json(body: bytes) -> Any:
    """The body's JSON value, as the standard library reads it.

    msgspec reads a 1000-event body in half the time. The bodies it refuses go to the
    standard library, which takes some of them (lone surrogate escapes, NaN, numbers beyond a
    double, a byte-order mark), so the answer to any body is the same either way.
    """
    try:
        return _fast_json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):  # invalid UTF-8 included
        pass
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # deep nesting included
        raise MalformedPayload(INVALID_PAYLOAD) from exc


def require_keys(item: Any, keys: tuple[str, ...]) -> None:
    """A mandatory key missing from an item rejects the batch, as seed 003 documents."""
    if not isinstance(item, dict):
        raise MalformedPayload(INVALID_PAYLOAD)
    for key in keys:
        if item.get(key) in (None, ""):
            raise MalformedPayload(f"Mandatory parameter missing: {key}")


def require_shallow(item: Any) -> None:
    """An item nested deeper than `MAX_ITEM_DEPTH` rejects the batch as an invalid payload."""
    if too_deep(item, MAX_ITEM_DEPTH):
        raise MalformedPayload(INVALID_PAYLOAD)


class ItemError(ValueError):
    """Raised inside a format for one unreadable item; becomes an `EventError`."""


def require_item_keys(item: Any, keys: tuple[str, ...]) -> None:
    """An ESP's item without a mandatory key is one unreadable event, not a bad batch: the ESP
    retries a whole batch on any refusal, so refusing it would lose every other event."""
    if not isinstance(item, dict):
        raise ItemError(INVALID_PAYLOAD)
    for key in keys:
        if item.get(key) in (None, ""):
            raise ItemError(f"Mandatory parameter missing: {key}")


def event_and_email(item: Any, event_key: str, email_key: str) -> tuple[str, str]:
    """An ESP item's event word, lowercase, and its address; both are mandatory."""
    require_item_keys(item, (event_key, email_key))
    return text(item[event_key]).strip().lower(), clean_email(item[email_key])


def too_deep(value: Any, limit: int) -> bool:
    """True when lists and objects nest more than `limit` levels in `value`; no recursion."""
    level = [value]
    for _depth in range(limit):
        level = [
            child
            for node in level
            if isinstance(node, (list, dict))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, (list, dict)) for node in level)


def clean_email(value: Any) -> str:
    """The address as the ESP sent it, trimmed; a light syntax check, not RFC 5322."""
    if not isinstance(value, str):
        raise ItemError(INVALID_EMAIL)
    email = value.strip()
    if not email.isprintable() or _sanitize(email) != email:
        raise ItemError(INVALID_EMAIL)
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        # Measured as stored: folding can lengthen an address ("İ".lower() is two characters).
        or len(normalize_email(email)) > 254
        or len(email.split()) != 1  # whitespace inside
    ):
        raise ItemError(INVALID_EMAIL)
    return email


def parse_timestamp(value: Any, *, required: bool = False) -> datetime | None:
    """Unix seconds (int, float or digit string); milliseconds are recognised by size.

    SendGrid's Marketing Campaigns sample shows milliseconds (reference §1.4), Netcore's older
    samples send strings (§2.2).
    """
    if type(value) is int and 0 <= value <= MAX_SECONDS:
        return datetime.fromtimestamp(value, tz=UTC)  # the usual case, without float checks
    if value is None or value == "":
        if required:
            raise ItemError(INVALID_TIMESTAMP)
        return None
    if isinstance(value, bool):
        raise ItemError(INVALID_TIMESTAMP)
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError) as exc:  # an integer beyond any float
        raise ItemError(INVALID_TIMESTAMP) from exc
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ItemError(INVALID_TIMESTAMP)
    if seconds > MAX_SECONDS:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ItemError(INVALID_TIMESTAMP) from exc


def text(value: Any) -> str:
    """An ESP field as text: strings kept, numbers and lists stringified, None empty.

    NUL characters and lone surrogates, which JSON allows and PostgreSQL cannot store, are
    replaced, so no field an ESP sends can make the database refuse the batch. A value nested
    deeper than `MAX_ITEM_DEPTH` is unreadable and reads as empty.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return _sanitize(value)
    if isinstance(value, (int, float)):
        return str(value)
    if too_deep(value, MAX_ITEM_DEPTH):
        return ""
    return _sanitize(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _sanitize(value: str) -> str:
    if value.isascii() and "\x00" not in value:
        return value  # the common case, checked at C speed
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def content_key(fmt: str, *parts: Any) -> str:
    """A dedupe key: sha256 of the format name and the identifying fields (64 hex chars)."""
    [key] = text_keys([(fmt, *[text(part) for part in parts])])
    return key


def text_keys(rows: Iterable[Sequence[str]]) -> list[str]:
    """`content_key(*row)` of each row, a format name and parts that are already text
    (`text(part) == part`): the name and the parts joined by 0x1F, hashed in one call each."""
    sha256 = hashlib.sha256
    return [sha256("\x1f".join(row).encode("utf-8", "surrogatepass")).hexdigest() for row in rows]
