"""Celery tasks of the callbacks app."""

from celery import shared_task

from callbacks import inbox


@shared_task(ignore_result=True)
def apply_pending_callbacks() -> int:
    """Apply the callback batches waiting in the inbox (queued per batch, swept each minute).

    A run cut short loses nothing: its batch rolls back and stays in the inbox for the next.
    """
    return inbox.apply_pending()
