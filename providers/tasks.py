"""Celery tasks of the providers app, and the one place that queues them.

Views call `enqueue_test_email`; the tasks call `providers.sending`, which
never imports this module (views → tasks → sending).
"""

import logging

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from providers import sending
from providers.models import TestEmail
from providers.sending import MAX_RETRIES, DeliveryOutcome, deliver_test_email, retry_delay

log = logging.getLogger(__name__)

RECLAIM_MARGIN_SECONDS = 1.0
Status = TestEmail.Status


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_test_email(self, test_email_id: int) -> str:
    """Send one test email; failures are retried as their reason allows (`sending`), briefly.

    Acknowledged late, so a worker killed mid-send has the task redelivered. A redelivered run
    that finds the row still "sending" (held by the dead attempt) comes back once that attempt
    is stale and reclaims the row (`sending.deliver_test_email`), unless the stale sweeper or
    the live attempt has finished it by then.
    """
    test_email = TestEmail.objects.select_related("provider").filter(pk=test_email_id).first()
    if test_email is None:  # deleted with its provider meanwhile
        return DeliveryOutcome.SKIPPED.value
    retries_done = self.request.retries
    outcome = deliver_test_email(test_email, may_retry=True, retries_done=retries_done)
    if outcome is DeliveryOutcome.RETRY:
        raise self.retry(countdown=retry_delay(retries_done))
    if outcome is DeliveryOutcome.SKIPPED and not self.request.is_eager:
        wait = sending.seconds_until_reclaimable(test_email_id)
        if wait is not None:
            # A fresh message, not self.retry(): this is not a failed attempt of ours.
            send_test_email.apply_async((test_email_id,), countdown=wait + RECLAIM_MARGIN_SECONDS)
            return "rescheduled"
    return outcome.value


@shared_task
def sweep_stale_test_emails() -> int:
    """Fail test emails stuck in "sending" past the stale timeout, and queue again (or fail)
    those no worker picked up (run by Celery beat)."""
    return sweep_test_emails()


def sweep_test_emails(now=None) -> int:
    """Fail rows stuck in "sending" (return how many), then requeue or fail lost ones."""
    now = now or timezone.now()
    count = sending.fail_stale_test_emails(now)
    requeue_lost_test_emails(now)
    return count


# --- enqueueing -----------------------------------------------------------------------
def enqueue_test_email(test_email: TestEmail) -> bool:
    """Send `test_email` through Celery once the row is committed; return whether it queued.

    If the broker cannot be reached the row is kept and marked failed ("Could not be queued")
    so the page can say so; publishing happens in an on_commit callback that catches the
    broker's errors instead of letting them escape from the commit. Called inside an atomic
    block, publishing waits for the commit and True means "will be published then".
    """
    queued = True

    def publish() -> None:
        nonlocal queued
        queued = _publish(test_email.pk)

    transaction.on_commit(publish)
    return queued


def requeue_lost_test_emails(now=None) -> tuple[int, int]:
    """Queue overdue rows once more, fail those already queued again; return both counts."""
    now = now or timezone.now()
    failed = sending.fail_not_picked_up(sending.overdue_rows(now).filter(requeues__gt=0), now)
    requeued = 0
    for pk in sending.overdue_rows(now).filter(requeues=0).values_list("pk", flat=True):
        requeued += _requeue(pk, now)
    if failed or requeued:
        log.warning("Test emails no worker picked up: %s queued again, %s failed", requeued, failed)
    return requeued, failed


def _requeue(pk: int, now) -> int:
    """Publish the task again for a row still waiting; 1 if this call did it."""
    claimed = TestEmail.objects.filter(pk=pk, status=Status.QUEUED, requeues=0).update(
        requeues=F("requeues") + 1, due_at=now
    )
    if not claimed:
        return 0
    _publish(pk)
    return 1


def _publish(pk: int) -> bool:
    """Send the task; if the broker cannot be reached, fail the row saying so. Whether it went."""
    try:
        send_test_email.delay(pk)
    except Exception as exc:  # kombu.OperationalError, redis errors, socket errors
        log.warning("Could not queue test email %s: %s", pk, exc)
        sending.mark_queue_unavailable(pk, exc)
        return False
    return True
