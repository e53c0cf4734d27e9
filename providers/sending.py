"""Deliver a test email through its provider's adapter and store the verdict.

`deliver_test_email` is what the Celery task calls; it is a plain function so tests can run it
without a worker. It claims the row with a conditional UPDATE (queued → sending), so a task
that runs twice sends once and a re-run after success does nothing.

A worker that dies mid-send (killed, out of memory, machine lost) leaves its row in "sending".
Two things keep such a row from staying there: the task is acknowledged late, so the broker
redelivers it, and a redelivered run may reclaim a row whose attempt started longer ago than
`stale_after()` — no live attempt lasts that long, since every network step has a timeout.
A row nobody reclaims is failed as STALE by `sweep_stale_test_emails` (Celery beat, every
minute, in `make run` too); the test email's page only reads.

A task message can also be lost before any worker takes it (Redis restarted without
persistence, say), leaving the row "queued". A row still queued `queue_timeout()` after its
attempt was due is queued once more (the task is idempotent: a duplicate finds the row claimed
and does nothing); if it is still queued a timeout later it is failed as NOT_PICKED_UP. The
sweeper does both; publishing lives in
`providers.tasks`, which calls this module and never the other way round.

Retries are decided by the failure's reason (`RETRIES_BY_REASON`) and kept short, since a
person is usually watching the page: a refused key is never retried, an unreachable API twice
within seconds, a timeout (which has already cost a whole network timeout) once.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import strip_tags

from profiles import preference_links
from providers.adapters import DeliveryError, OutgoingMessage, adapter_for, make_meta
from providers.adapters.base import scrub_secret
from providers.crypto import SecretUnreadable
from providers.models import TestEmail

log = logging.getLogger(__name__)

Status = TestEmail.Status
Reason = TestEmail.FailureReason


# How many times a failure may be retried, by reason, when the adapter says it is transient.
RETRIES_BY_REASON = {
    Reason.CONNECTION_ERROR: 2,
    Reason.API_CONNECTION_ERROR: 2,
    Reason.DISPATCH_FAILED: 2,  # a 4xx SMTP reply
    Reason.ESP_REJECTED: 2,  # a 5xx or 429 answer from the API
    Reason.AUTH_FAILED: 1,  # a 454 "temporary authentication failure"
    Reason.TIMEOUT: 1,
    Reason.API_TIMEOUT: 1,
}
RETRY_DELAYS_SECONDS = (2, 5)  # before the second attempt, and before the third
MAX_RETRIES = max(RETRIES_BY_REASON.values())


def retries_allowed(error: DeliveryError) -> int:
    return RETRIES_BY_REASON.get(error.reason, 0) if error.transient else 0


def retry_delay(retries_done: int) -> int:
    """Seconds to wait before retry number `retries_done + 1`."""
    return RETRY_DELAYS_SECONDS[min(retries_done, len(RETRY_DELAYS_SECONDS) - 1)]


class DeliveryOutcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"  # transient failure; the row is queued again for the next attempt
    SKIPPED = "skipped"  # another run owns the row, or it is already finished


def deliver_test_email(
    test_email: TestEmail, *, may_retry: bool = False, retries_done: int = 0
) -> DeliveryOutcome:
    """Send `test_email` once and record the outcome on the row.

    With `may_retry`, a failure whose reason still allows a retry after `retries_done` puts the
    row back to queued (keeping the last error for the page to show), due `retry_delay()`
    later, and returns RETRY; the caller schedules the next attempt.
    """
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.SENDING, started_at__lt=now - stale_after()
    )  # a dead attempt's row: see the module docstring
    claimed = TestEmail.objects.filter(claimable, pk=test_email.pk).update(
        status=Status.SENDING, started_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return DeliveryOutcome.SKIPPED
    test_email.refresh_from_db()
    provider = test_email.provider
    meta = make_meta(test_email.recipient, test_email.pk, provider.pk)
    adapter = adapter_for(provider)
    try:
        result = adapter.send(compose_test_email(test_email, meta))
    except DeliveryError as error:
        retry = may_retry and retries_done < retries_allowed(error)
        due_at = timezone.now() + timedelta(seconds=retry_delay(retries_done)) if retry else None
        _record_failure(test_email, error, adapter.transcript, meta, due_at=due_at)
        return DeliveryOutcome.RETRY if retry else DeliveryOutcome.FAILED
    except Exception as exc:  # a bug or an unreadable secret: record it, never leave "sending"
        log.exception("Test email %s failed unexpectedly", test_email.pk)
        error = DeliveryError(Reason.DISPATCH_FAILED, f"Unexpected error: {exc!r}")
        _record_failure(test_email, error, adapter.transcript, meta, due_at=None)
        return DeliveryOutcome.FAILED
    TestEmail.objects.filter(pk=test_email.pk, status=Status.SENDING).update(
        status=Status.SENT,
        failure_reason="",
        failure_detail="",
        esp_status_code=result.code,
        esp_message_id=result.message_id[:255],
        meta=meta[:255],
        transcript=adapter.transcript,
        finished_at=timezone.now(),
    )
    return DeliveryOutcome.SENT


def _record_failure(
    test_email: TestEmail,
    error: DeliveryError,
    transcript: str,
    meta: str,
    *,
    due_at: datetime | None,
) -> None:
    """Store the failure: queued again for an attempt at `due_at`, or failed when None.

    The ESP's words are stored without the provider's secret: some ESPs echo the key.
    """
    retry = due_at is not None
    secret = _stored_secret(test_email)
    TestEmail.objects.filter(pk=test_email.pk, status=Status.SENDING).update(
        status=Status.QUEUED if retry else Status.FAILED,
        failure_reason=error.reason,
        failure_detail=scrub_secret(error.detail, secret),
        esp_status_code=error.code,
        meta=meta[:255],
        transcript=scrub_secret(transcript, secret),
        due_at=due_at if retry else F("due_at"),
        finished_at=None if retry else timezone.now(),
    )


def _stored_secret(test_email: TestEmail) -> str:
    try:
        return test_email.provider.secret
    except SecretUnreadable:  # a secret nobody can read cannot be echoed either
        return ""


def compose_test_email(test_email: TestEmail, meta: str) -> OutgoingMessage:
    """The test email itself; its words live in providers/test_email_message.html.

    It is marked as a test, so its unsubscribe and preference links lead to a page that says
    so and change nothing (seed 003).
    """
    provider = test_email.provider
    preferences_url = ""
    if provider.preference_center == provider.PreferenceCenter.SYSTEM:
        preferences_url = preference_links.preference_center_url(test_email.recipient, test=True)
    html = render_to_string(
        "providers/test_email_message.html",
        {
            "provider": provider,
            "test_email": test_email,
            "site_url": settings.SITE_URL,
            "preferences_url": preferences_url,
        },
    )
    text = "\n".join(line.strip() for line in strip_tags(html).splitlines())
    text = "\n".join(part for part in text.split("\n\n") if part.strip()).strip() + "\n"
    return OutgoingMessage(
        to=test_email.recipient,
        subject=f"Postdesk test email from {provider.nickname}",
        text=text,
        html=html,
        meta=meta,
        is_test=True,
    )


def mark_queue_unavailable(test_email_id: int, exc: Exception) -> None:
    _fail(
        TestEmail.objects.filter(pk=test_email_id, status=Status.QUEUED),
        Reason.QUEUE_UNAVAILABLE,
        f"The task queue could not be reached: {exc}",
        timezone.now(),
    )


def _fail(rows, reason: str, detail: str, now, **also) -> int:
    """Fail the test emails `rows` selects, saying why; how many."""
    return rows.update(
        status=Status.FAILED, failure_reason=reason, failure_detail=detail, finished_at=now, **also
    )


def stale_after() -> timedelta:
    """How long a "sending" row may last before we call its worker lost.

    TEST_EMAIL_STALE_AFTER_SECONDS (120 s by default: eight network timeouts), well beyond
    what one live attempt can take.
    """
    return timedelta(seconds=float(settings.TEST_EMAIL_STALE_AFTER_SECONDS))


def _stale_rows(now):
    return TestEmail.objects.filter(status=Status.SENDING, started_at__lt=now - stale_after())


def fail_stale_test_emails(now=None) -> int:
    """Fail every row stuck in "sending" longer than `stale_after()`; return how many."""
    now = now or timezone.now()
    count = _fail(
        _stale_rows(now), Reason.STALE, "The worker stopped responding while sending.", now
    )
    if count:
        log.warning("Marked %s test email(s) failed: their worker stopped responding", count)
    return count


# --- queued, but no worker picked it up ------------------------------------------------
def queue_timeout() -> timedelta:
    """How long a row may stay queued past its due time before its task is presumed lost."""
    return timedelta(seconds=float(settings.TEST_EMAIL_QUEUE_TIMEOUT_SECONDS))


def overdue_rows(now):
    return TestEmail.objects.filter(status=Status.QUEUED, due_at__lt=now - queue_timeout())


def fail_not_picked_up(rows, now) -> int:
    return _fail(
        rows,
        Reason.NOT_PICKED_UP,
        "No worker picked it up, even after it was queued a second time.",
        now,
        esp_status_code=None,
    )


def seconds_until_reclaimable(test_email_id: int) -> float | None:
    """For a row another attempt holds in "sending": seconds until a new run may reclaim it.

    None when the row is not in "sending" (finished, queued, gone).
    """
    row = (
        TestEmail.objects.filter(pk=test_email_id, status=Status.SENDING)
        .values("started_at")
        .first()
    )
    if row is None or row["started_at"] is None:
        return None
    due = row["started_at"] + stale_after()
    return max((due - timezone.now()).total_seconds(), 0.0)
