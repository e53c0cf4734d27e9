"""Celery tasks of the callbacks app."""

import logging

from celery import shared_task

from callbacks import inbox, retention

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def apply_pending_callbacks() -> int:
    """Apply the callback batches waiting in the inbox (queued per batch, swept each minute).

    A run cut short loses nothing: its batch rolls back and stays in the inbox for the next.
    """
    return inbox.apply_pending()


@shared_task(ignore_result=True)
def prune_callback_history() -> None:
    """Hourly: forget de-duplication keys and callback logs past their retention; on
    PostgreSQL, create the coming days' partitions and drop expired ones."""
    result = retention.prune()
    if result.keys or result.logs or result.dropped:
        log.info(
            "Pruned %s de-duplication keys and %s callback logs; dropped partitions %s",
            result.keys,
            result.logs,
            result.dropped,
        )
    if result.kept:
        log.warning(
            "Kept expired callback log partitions %s: a log of theirs still has its batch "
            "in the inbox",
            result.kept,
        )


@shared_task(ignore_result=True)
def poll_bounce_mailboxes() -> int:
    """Read the bounce mailboxes whose turn has come (callbacks.mailbox.poller)."""
    from callbacks.mailbox import poller

    return poller.poll_due()


@shared_task(ignore_result=True)
def poll_bounce_mailbox(mailbox_id: int) -> None:
    """Read one bounce mailbox now ("Poll now")."""
    from callbacks.mailbox import poller

    poller.poll_mailbox(mailbox_id)
