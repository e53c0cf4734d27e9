"""Poll bounce mailboxes: new messages by UID into the callback inbox, once.

One poll per mailbox at a time: a poll first claims the mailbox with a lease (a short
transaction sets `lease_expires_at` where it is empty or past), and a second poll skips a
mailbox under lease. The IMAP I/O runs outside any transaction, so callback writes are never
held up by it. The events of the new messages are then stored as one inbox batch (a
`CallbackLog` with method IMAP and format "mailbox", applied by the workers like a webhook's)
in one short transaction that also saves the resume point (the highest UID read) and releases
the lease, so a poll that crashes stores neither and the next one reads the same messages
again; one that crashes after the commit finds them behind its resume point. A poll that
outlives its lease stores nothing: another may have taken the mailbox over. The processed
action (mark read, move, delete) runs after the commit; an unreadable message is left where it
is and counted.
A failed poll records its error and is retried with a growing delay.
"""

from __future__ import annotations

import imaplib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from callbacks import inbox
from callbacks.formats import mailbox as mailbox_format
from callbacks.mailbox.client import MailboxError, close, open_mailbox, quoted
from callbacks.mailbox.models import BounceMailbox
from callbacks.mailbox.reader import Verdict, read_message
from callbacks.models import CallbackLog, EventKind
from callbacks.receive import loggable_excerpt
from providers.models import EmailProvider

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_POLL = 200
LEASE = timedelta(minutes=10)
RESUME_POINT_FIELDS = [
    "polls",
    "uid_validity",
    "last_uid",
    "messages_read",
    "bounces_found",
    "complaints_found",
    "unreadable_messages",
    "last_poll_at",
    "last_error",
    "failures",
    "next_poll_at",
]
UID_IN_FETCH = re.compile(rb"UID (\d+)")


@dataclass
class PollResult:
    messages: int = 0
    counts: Counter = field(default_factory=Counter)
    processed_uids: list[int] = field(default_factory=list)


def due_mailboxes() -> list[int]:
    return list(
        BounceMailbox.objects.filter(
            enabled=True,
            next_poll_at__lte=timezone.now(),
            provider__kind__in=EmailProvider.SMTP_KINDS,
        ).values_list("pk", flat=True)
    )


def poll_due() -> int:
    """Poll every mailbox whose turn has come; how many were polled."""
    return sum(poll_mailbox(pk) is not None for pk in due_mailboxes())


def poll_mailbox(mailbox_id: int) -> PollResult | None:
    """Read `mailbox_id`'s new messages; None when another poll holds it (or it is gone)."""
    mailbox = _claim(mailbox_id)
    if mailbox is None:
        return None
    client = None
    try:
        client, uid_validity = open_mailbox(mailbox)
        result, items = _read_new_messages(client, mailbox, uid_validity)
        _store_batch_and_resume_point(mailbox, result, items)
    except Exception as exc:
        if client is not None:
            close(client)
        log.warning("Bounce mailbox %s could not be polled: %s", mailbox_id, exc)
        _record_failure(mailbox_id, exc)
        return PollResult()
    try:
        _apply_processed_action(client, mailbox, result.processed_uids)
    except (OSError, imaplib.IMAP4.error) as exc:  # the messages stay; they are behind the UID
        log.warning("Bounce mailbox %s: processed messages not moved: %s", mailbox_id, exc)
    finally:
        close(client)
    return result


def _claim(mailbox_id: int) -> BounceMailbox | None:
    """Take the mailbox's lease in a short transaction; None when another poll holds it."""
    now = timezone.now()
    with transaction.atomic():
        mailbox = (
            BounceMailbox.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("provider")
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now), pk=mailbox_id)
            .first()
        )
        if mailbox is None:
            return None
        mailbox.lease_expires_at = now + LEASE
        mailbox.save(update_fields=["lease_expires_at"])
    return mailbox


def _read_new_messages(
    client: imaplib.IMAP4, mailbox: BounceMailbox, uid_validity: int
) -> tuple[PollResult, list[dict[str, str]]]:
    if mailbox.uid_validity != uid_validity:  # a new folder under the same name
        mailbox.uid_validity, mailbox.last_uid = uid_validity, 0
    result = PollResult()
    items: list[dict[str, str]] = []
    for uid, raw in _fetch_new(client, mailbox.last_uid):
        result.messages += 1
        reading = read_message(raw)
        result.counts[reading.verdict] += 1
        if reading.verdict != Verdict.UNREADABLE:
            result.processed_uids.append(uid)
        items.extend(_items(reading))
        mailbox.last_uid = max(mailbox.last_uid, uid)
    return result, items


def _store_batch_and_resume_point(
    mailbox: BounceMailbox, result: PollResult, items: list[dict[str, str]]
) -> None:
    """Store the batch and the resume point together, if the lease is still this poll's."""
    with transaction.atomic():
        if not _still_holds_lease(mailbox.pk, mailbox.lease_expires_at):
            raise MailboxError("The poll took longer than its lease; nothing was stored.")
        if items:
            _store_batch(mailbox, items)
        _save_resume_point(mailbox, result, items)


def _still_holds_lease(mailbox_id: int, lease_expires_at: datetime | None) -> bool:
    return (
        BounceMailbox.objects.select_for_update()
        .filter(
            pk=mailbox_id, lease_expires_at=lease_expires_at, lease_expires_at__gt=timezone.now()
        )
        .exists()
    )


def _fetch_new(client: imaplib.IMAP4, last_uid: int) -> list[tuple[int, bytes]]:
    status, data = client.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if status != "OK":
        raise MailboxError("The server refused to search the folder.")
    # "n:*" always matches the newest message, even below n.
    uids = sorted(int(uid) for uid in (data[0] or b"").split() if int(uid) > last_uid)
    uids = uids[:MAX_MESSAGES_PER_POLL]
    if not uids:
        return []
    status, data = client.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if status != "OK":
        raise MailboxError("The server refused to return the new messages.")
    messages = []
    for part in data:
        if isinstance(part, tuple):
            match = UID_IN_FETCH.search(part[0])
            if match:
                messages.append((int(match.group(1)), part[1]))
    return sorted(messages)


def _items(reading) -> list[dict[str, str]]:
    return [
        {
            "email": finding.email,
            "kind": finding.kind.value,
            "meta": reading.meta,
            "description": finding.description[:500],
            "message_id": reading.message_id,
        }
        for finding in reading.findings
    ]


def _store_batch(mailbox: BounceMailbox, items: list[dict[str, str]]) -> None:
    body = mailbox_format.encode(items)
    callback_log = CallbackLog(
        provider=mailbox.provider,
        method="IMAP",
        payload_format=mailbox_format.FORMAT,
        status_code=200,
        events_total=len(items),
        processed=len(items),
        body_excerpt=loggable_excerpt(body),
    )
    inbox.accept(callback_log, body)


def _save_resume_point(mailbox: BounceMailbox, result: PollResult, items: list[dict]) -> None:
    """Save the highest UID read and the health counters and release the lease, in the batch's
    transaction."""
    kinds = Counter(item["kind"] for item in items)
    mailbox.polls += 1
    mailbox.messages_read += result.messages
    mailbox.bounces_found += kinds[EventKind.HARD_BOUNCE] + kinds[EventKind.SOFT_BOUNCE]
    mailbox.complaints_found += kinds[EventKind.SPAM]
    mailbox.unreadable_messages += result.counts[Verdict.UNREADABLE]
    mailbox.last_poll_at = timezone.now()
    mailbox.last_error = ""
    mailbox.failures = 0
    mailbox.next_poll_at = timezone.now()
    mailbox.lease_expires_at = None
    mailbox.save(update_fields=[*RESUME_POINT_FIELDS, "lease_expires_at"])


def _record_failure(mailbox_id: int, exc: Exception) -> None:
    with transaction.atomic():
        mailbox = BounceMailbox.objects.select_for_update().filter(pk=mailbox_id).first()
        if mailbox is None:
            return
        mailbox.record_failure(str(exc) or type(exc).__name__)
        mailbox.lease_expires_at = None
        mailbox.polls += 1
        mailbox.save(
            update_fields=[
                "polls",
                "failures",
                "next_poll_at",
                "last_error",
                "last_poll_at",
                "lease_expires_at",
            ]
        )


def _apply_processed_action(client, mailbox: BounceMailbox, uids: list[int]) -> None:
    if not uids:
        return
    uid_set = ",".join(map(str, uids))
    action = mailbox.processed_action
    if action == BounceMailbox.Processed.MOVE and mailbox.move_to_folder:
        client.uid("COPY", uid_set, quoted(mailbox.move_to_folder))
        action = BounceMailbox.Processed.DELETE
    if action == BounceMailbox.Processed.DELETE:
        client.uid("STORE", uid_set, "+FLAGS", "(\\Deleted)")
        client.expunge()
    else:
        client.uid("STORE", uid_set, "+FLAGS", "(\\Seen)")
