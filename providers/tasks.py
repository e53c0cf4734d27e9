"""Celery tasks of the providers app."""

from celery import shared_task

from providers.models import TestEmail
from providers.sending import Outcome, deliver_test_email

MAX_RETRIES = 3
RETRY_BACKOFF_SECONDS = 10  # 10 s, 20 s, 40 s


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_test_email(self, test_email_id: int) -> str:
    """Send one test email; transient failures are retried with backoff, up to a cap."""
    test_email = TestEmail.objects.select_related("provider").filter(pk=test_email_id).first()
    if test_email is None:  # deleted with its provider meanwhile
        return Outcome.SKIPPED.value
    may_retry = self.request.retries < self.max_retries
    outcome = deliver_test_email(test_email, may_retry=may_retry)
    if outcome is Outcome.RETRY:
        raise self.retry(countdown=RETRY_BACKOFF_SECONDS * 2**self.request.retries)
    return outcome.value
