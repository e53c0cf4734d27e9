"""Celery tasks of the providers app."""

from celery import shared_task

from providers import sending
from providers.models import TestEmail
from providers.sending import MAX_RETRIES, Outcome, deliver_test_email, retry_delay

RECLAIM_MARGIN_SECONDS = 1.0


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
        return Outcome.SKIPPED.value
    retries_done = self.request.retries
    outcome = deliver_test_email(test_email, may_retry=True, retries_done=retries_done)
    if outcome is Outcome.RETRY:
        raise self.retry(countdown=retry_delay(retries_done))
    if outcome is Outcome.SKIPPED and not self.request.is_eager:
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
    return sending.sweep_stale_test_emails()
