"""Read one returned message: which recipients bounced or complained, and how.

* RFC 3464 delivery status notifications, per recipient: ``Action: failed`` with a 5.x.x
  ``Status`` is a hard bounce; ``delayed``, 4.x.x, or a failure without a permanent status is
  soft. ``delivered``, ``relayed`` and ``expanded`` are no bounce.
* RFC 5965 feedback reports (ARF): a spam complaint for the original recipient.
* Anything else goes through `flufl.bounce`'s detectors. The classification is conservative:
  hard only when the text carries a permanent SMTP code (5xx or 5.x.x) as evidence, otherwise
  soft.
* Auto-replies and out-of-office messages are not bounces.

Each finding carries the ``X-Postdesk-Meta`` header of the returned original message when
the bounce includes it, so the event is attributed to its send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

from flufl.bounce import all_failures

from callbacks.models import EventKind
from providers.adapters.base import META_HEADER

PERMANENT_STATUS = re.compile(r"^\s*5\.\d{1,3}\.\d{1,3}")
# Evidence of a permanent failure in a free-text bounce: an enhanced status code 5.x.x, or an
# SMTP reply code 5xx at the start of a line or after a space.
PERMANENT_TEXT = re.compile(
    r"(?<![\d.])5\.\d{1,3}\.\d{1,3}(?![\d.])|(?:^|\s)55[0-4][\s:-]", re.MULTILINE
)
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|"
    r"abwesenheitsnotiz|r[ée]ponse automatique|vacation)",
    re.IGNORECASE,
)


class Verdict:
    """What a message is, as a whole."""

    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    NOT_A_BOUNCE = "not_a_bounce"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Finding:
    """One recipient of the returned message and what happened to it."""

    email: str
    kind: EventKind
    description: str = ""


@dataclass
class Reading:
    verdict: str
    message_id: str = ""
    meta: str = ""
    findings: list[Finding] = field(default_factory=list)


def read_message(raw: bytes) -> Reading:
    """Classify the message `raw`; never raises (a message it cannot parse is unreadable)."""
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
        if not message.keys():
            return Reading(Verdict.UNREADABLE)
        return _read(message)
    except Exception:  # a hostile or broken message must not stop the mailbox
        return Reading(Verdict.UNREADABLE)


def _read(message: Message) -> Reading:
    message_id = (message.get("Message-ID") or "").strip()
    meta = _original_meta(message)
    report_type = (message.get_param("report-type") or "").lower()
    if message.get_content_type() == "multipart/report" and report_type == "feedback-report":
        findings = _arf_findings(message)
        verdict = Verdict.COMPLAINT if findings else Verdict.UNREADABLE
        return Reading(verdict, message_id, meta, findings)
    if message.get_content_type() == "multipart/report" and report_type == "delivery-status":
        findings = _dsn_findings(message)
        return Reading(
            Verdict.BOUNCE if findings else Verdict.NOT_A_BOUNCE, message_id, meta, findings
        )
    if _is_vacation_reply(message):
        return Reading(Verdict.AUTO_REPLY, message_id, meta)
    findings = _detected_findings(message)
    if findings:
        return Reading(Verdict.BOUNCE, message_id, meta, findings)
    # Bounces are auto-replied too (RFC 3834), so the header alone decides only here.
    auto = (message.get("Auto-Submitted") or "no").strip().lower().startswith("auto-replied")
    return Reading(Verdict.AUTO_REPLY if auto else Verdict.NOT_A_BOUNCE, message_id, meta)


def _parts(message: Message, content_type: str) -> list[Message]:
    return [part for part in message.walk() if part.get_content_type() == content_type]


def _dsn_findings(message: Message) -> list[Finding]:
    findings = []
    for part in _parts(message, "message/delivery-status"):
        # The email package reads a delivery-status body as a list of header blocks: the
        # per-message fields first, then one block per recipient.
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:
            finding = _dsn_recipient(block)
            if finding is not None:
                findings.append(finding)
    return findings


def _dsn_recipient(block: Message) -> Finding | None:
    recipient = _address(block.get("Original-Recipient") or block.get("Final-Recipient"))
    action = (block.get("Action") or "").strip().lower()
    status = (block.get("Status") or "").strip()
    if not recipient or action not in ("failed", "delayed"):
        return None
    diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
    description = f"{action} {status} {diagnostic}".strip()
    hard = action == "failed" and PERMANENT_STATUS.match(status) is not None
    return Finding(recipient, EventKind.HARD_BOUNCE if hard else EventKind.SOFT_BOUNCE, description)


def _arf_findings(message: Message) -> list[Finding]:
    recipient = ""
    feedback_type = "abuse"
    for part in _parts(message, "message/feedback-report"):
        fields = _fields(part)
        feedback_type = fields.get("feedback-type", feedback_type)
        recipient = _address(fields.get("original-rcpt-to", ""))
    if not recipient:
        original = _original_headers(message)
        recipient = _address(original.get("To", "")) if original is not None else ""
    if not recipient:
        return []
    return [Finding(recipient, EventKind.SPAM, f"feedback report: {feedback_type}")]


def _fields(part: Message) -> dict[str, str]:
    """The `name: value` fields of a report part, lower-case names; the first of each wins."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    fields: dict[str, str] = {}
    for block in blocks:
        for name, value in block.items():
            fields.setdefault(name.lower(), str(value).strip())
    return fields


def _original_headers(message: Message) -> Message | None:
    """The returned original message (or just its headers), if the bounce includes it."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if content_type == "text/rfc822-headers":
            body = part.get_payload(decode=True) or b""
            return message_from_bytes(body, policy=policy.compat32)
    return None


def _original_meta(message: Message) -> str:
    original = _original_headers(message)
    if original is not None and original.get(META_HEADER):
        return " ".join(str(original[META_HEADER]).split())
    # A non-standard bounce may quote the original headers in its text.
    match = re.search(rf"^{META_HEADER}:\s*(\S+)", _text_of(message), re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else ""


def _address(value: str) -> str:
    """The address of a `rfc822;addr` field value or of a plain one; empty if it is none."""
    value = str(value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    value = value.strip().strip("<>").strip()
    return value if "@" in value and " " not in value else ""


def _is_vacation_reply(message: Message) -> bool:
    """An out-of-office or other auto-responder's reply, by its headers or its subject."""
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if (message.get("Precedence") or "").lower() == "auto_reply":
        return True
    return AUTO_REPLY_SUBJECT.match(message.get("Subject") or "") is not None


def _text_of(message: Message) -> str:
    chunks = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            body = part.get_payload(decode=True) or b""
            chunks.append(body.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(chunks)


def _detected_findings(message: Message) -> list[Finding]:
    temporary, permanent = all_failures(message)
    text = _text_of(message)
    evidence = PERMANENT_TEXT.search(text) is not None
    findings: dict[str, Finding] = {}
    for raw in temporary:
        email = _address(_decoded(raw))
        if email:
            findings[email] = Finding(email, EventKind.SOFT_BOUNCE, "temporary failure")
    for raw in permanent:
        email = _address(_decoded(raw))
        if email:
            kind = EventKind.HARD_BOUNCE if evidence else EventKind.SOFT_BOUNCE
            description = "permanent failure" if evidence else "failure without a permanent code"
            findings[email] = Finding(email, kind, description)
    return list(findings.values())


def _decoded(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
