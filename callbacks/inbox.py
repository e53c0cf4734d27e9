"""The callback inbox: accepted batches wait here, durably, until a worker applies them.

The endpoint answers an ESP once the body it checked is committed as a `PendingBatch`, beside
the request's `CallbackLog`: one small transaction, whatever the batch does to profiles. Celery
workers then parse pending bodies oldest first and apply their events through
`services.apply_events`, each in a transaction that also deletes the batch and fills in the
log, so a batch is applied exactly once however many times a task runs. Parsing belongs to
the worker: the answer needs only the body's check (`callbacks.formats`), which takes a fifth
of the time for a plain SendGrid batch. A batch that fails is retried later with a growing delay
and does not hold up the ones behind it. Nothing accepted is lost if the broker drops a
message: the periodic sweep (`callbacks.tasks.apply_pending_callbacks`) finds the batch.

Deleting a provider applies its waiting batches first (`apply_waiting_batches`, then
`apply_before_provider_delete` inside the deletion): the ESP was told 200 for each, so they
must not go with the provider's rows.

A flood of batches queues few tasks: tasks are queued only when no worker has been asked yet
(`InboxWakeup`), one for each worker process that should help (CALLBACK_WAKE_TASKS). A worker
that finds nothing due withdraws the request and looks again, and the endpoint makes one only
after its batch is committed, so whichever comes second sees the other: a batch is never left
for the sweep alone.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, ProtectedError
from django.utils import timezone

from callbacks import services
from callbacks.formats import named
from callbacks.models import CallbackLog, InboxWakeup, PendingBatch
from common.backoff import retry_delay
from common.bulk_sql import bound_cursor, insert_values, model_defaults, table_name
from providers.models import EmailProvider

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 10
LAST_RETRY_SECONDS = 3600
APPLY_BUDGET_SECONDS = 20  # then the task hands over, so other tasks get the worker too
SQLITE_PAUSE_SECONDS = 0.05


def accept(callback_log: CallbackLog, body: bytes) -> None:
    """Save the request's log and its checked body for a worker, together; then wake one."""
    callback_log.applied_at = None  # until a worker has applied the events
    _store(callback_log, body)
    transaction.on_commit(wake_worker, robust=True)  # a failure leaves it to the sweep


def _store(callback_log: CallbackLog, body: bytes) -> None:
    """Insert the log and its `PendingBatch` atomically.

    On PostgreSQL this is one statement, the log inserted by a WITH clause: no BEGIN and
    COMMIT around two inserts, three round trips fewer per request. The body (a few hundred
    kB) is bound apart from the SQL; quoted into the statement text, it would cost PostgreSQL a
    millisecond to parse back.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            callback_log.save()
            PendingBatch.objects.create(log=callback_log, body=body)
        return
    log_columns, log_values = insert_values(callback_log)
    batch_columns, batch_values = model_defaults(
        PendingBatch, exclude={"log", "body"}, now=callback_log.received_at
    )
    sql = (
        f"WITH log AS (INSERT INTO {table_name(CallbackLog)} ({', '.join(log_columns)}) "  # noqa: S608
        f"VALUES ({_placeholders(len(log_values))}) RETURNING id) "
        f"INSERT INTO {table_name(PendingBatch)} (log_id, body, {', '.join(batch_columns)}) "
        f"VALUES ((SELECT id FROM log), {_placeholders(len(batch_values) + 1)}) RETURNING log_id"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [*log_values, body, *batch_values])
        callback_log.pk = cursor.fetchone()[0]
    callback_log._state.adding = False
    callback_log._state.db = connection.alias


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def wake_worker() -> None:
    """After a batch is committed: queue tasks unless workers were asked and are not done.

    A wake-up queues CALLBACK_WAKE_TASKS tasks, so each worker process can take one: a flood
    is drained by all of them, not by the one process a single task would reach.
    """
    if _request_wakeup():
        publish(settings.CALLBACK_WAKE_TASKS)


def _request_wakeup() -> bool:
    """Record that a worker is asked; True unless it already was.

    ON CONFLICT DO NOTHING neither writes nor locks when the row is there: under a flood,
    asking again costs one index probe.
    """
    sql = (
        f"INSERT INTO {table_name(InboxWakeup)} (id) VALUES (1) "  # noqa: S608
        "ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone() is not None


def _clear_wakeup() -> None:
    InboxWakeup.objects.all().delete()


def publish(tasks: int = 1) -> None:
    """Ask `tasks` worker processes to apply what is pending (if the broker is down, the
    sweep will)."""
    from callbacks.tasks import apply_pending_callbacks

    try:
        for _ in range(tasks):
            # No publish retries: the batch is safe in the inbox, and the ESP is waiting.
            apply_pending_callbacks.apply_async(retry=False)
    except Exception as exc:  # kombu.OperationalError, redis errors, socket errors
        log.warning("Could not queue the callback inbox for a worker: %s", exc)
        _clear_wakeup()  # no worker was asked: the next batch tries again


def apply_pending(budget_seconds: float = APPLY_BUDGET_SECONDS) -> int:
    """Apply due batches, oldest first, until none is left or the budget is spent.

    Returns how many were applied. Concurrent workers skip each other's batches
    (SKIP LOCKED), so several can drain the inbox at once.
    """
    applied = 0
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        outcome = _apply_next()
        if outcome is None:
            # Clear the request first, then look again: a batch committed before the clear is
            # seen now, and one committed after it finds the request clear and queues a task.
            _clear_wakeup()
            if not _due().exists():
                return applied
            continue
        applied += outcome
        if connection.vendor == "sqlite":
            # SQLite has one write lock and does not queue for it: without a pause between
            # batches, a callback request waiting to store its own batch may never get it.
            time.sleep(SQLITE_PAUSE_SECONDS)
    if _due().exists():
        publish()  # more is waiting: a fresh task continues after whatever else is queued
    return applied


def _apply_next() -> int | None:
    """Apply the oldest due batch: 1 if it was applied, 0 if it failed, None if none was due."""
    with transaction.atomic():
        pending = _lock_next_due()
        if pending is None:
            return None
        try:
            with transaction.atomic():
                _apply(pending)
            return 1
        except Exception as exc:  # the batch stays; the next ones still go ahead
            log.exception("Callback batch of log %s failed", pending.log_id)
            _postpone(pending, exc)
            return 0


def _lock_next_due() -> PendingBatch | None:
    """The oldest due batch, locked for this worker, with its log and provider."""
    return _lock_oldest(_due(), skip_locked=True)


def _lock_oldest(batches, *, skip_locked: bool) -> PendingBatch | None:
    """The oldest of `batches`, locked, with its log and provider.

    The batch is picked by a subquery on the inbox alone, then joined: picked from the join,
    PostgreSQL walked the callback log in id order, every request it ever logged, to reach
    the oldest waiting batch (17 ms behind 8,000 applied requests, and growing).
    """
    oldest = (
        batches.order_by("log_id")
        .select_for_update(skip_locked=skip_locked, of=("self",))
        .values("pk")[:1]
    )
    return PendingBatch.objects.filter(pk__in=oldest).select_related("log__provider").first()


def _due(now: datetime | None = None):
    """Batches whose turn has come, oldest first."""
    return PendingBatch.objects.filter(retry_at__lte=now or timezone.now()).order_by("log_id")


def inbox_lag_seconds(now: datetime | None = None) -> float:
    """How long the oldest due batch has waited for a worker (0 when none is due).

    A batch is due from its `retry_at`: when stored, or when a failed attempt's delay ends.
    """
    now = now or timezone.now()
    oldest_due = _due(now).aggregate(oldest=Min("retry_at"))["oldest"]
    return max((now - oldest_due).total_seconds(), 0.0) if oldest_due else 0.0


def _apply(pending: PendingBatch) -> None:
    callback_log = pending.log
    events = named(callback_log.payload_format).parse(bytes(pending.body))
    result = services.apply_events(callback_log.provider, events, now=callback_log.received_at)
    callback_log.duplicates = result.duplicates
    callback_log.ignored = result.ignored
    callback_log.kind_counts = dict(result.counts)
    callback_log.applied_at = timezone.now()
    callback_log.save(update_fields=["duplicates", "ignored", "kind_counts", "applied_at"])
    pending.delete()


def apply_waiting_batches(provider: EmailProvider) -> None:
    """Apply `provider`'s waiting batches now, oldest first, each in its own transaction.

    Called before a provider is deleted, outside the deletion's transaction: a worker applying
    one of them is waited for, which is safe only while this holds no locks of its own. Raises
    ProtectedError if a batch fails; it stays in the inbox, where the workers retry it.
    """
    while _waiting(provider).exists():
        # A batch a worker applied while this waited for its lock is gone: look again.
        _apply_oldest_waiting(provider, skip_locked=False)


def apply_before_provider_delete(sender, instance: EmailProvider, **kwargs) -> None:
    """Apply what `instance`'s callback URL accepted, inside the deletion, before its rows go.

    Connected to EmailProvider's pre_delete (`CallbacksConfig.ready`), so every way of deleting
    a provider keeps what was accepted. The deletion holds the provider row locked
    (`EmailProviderManager.remove`), so a callback being stored for it now waits and then finds
    it gone. Batches a worker holds are not waited for (that worker waits for the provider row:
    a deadlock); ProtectedError stops the deletion instead, and a second try finds them applied.
    Usually `apply_waiting_batches` has already emptied the inbox and this only checks.
    """
    list(EmailProvider.objects.select_for_update().filter(pk=instance.pk).values_list("pk"))
    while _apply_oldest_waiting(instance, skip_locked=True):
        pass
    if _waiting(instance).exists():
        raise ProtectedError("A worker is applying this provider's callback batches.", [])


def _waiting(provider: EmailProvider):
    return PendingBatch.objects.filter(log__provider=provider)


def _apply_oldest_waiting(provider: EmailProvider, *, skip_locked: bool) -> bool:
    """Apply `provider`'s oldest waiting batch, whatever its retry_at; False if none was free."""
    with transaction.atomic():
        pending = _lock_oldest(_waiting(provider), skip_locked=skip_locked)
        if pending is None:
            return False
        try:
            with transaction.atomic():
                _apply(pending)
        except Exception as exc:
            log.exception("Callback batch of log %s failed before deletion", pending.log_id)
            raise ProtectedError(
                f"An accepted callback batch could not be applied: {exc}", [pending]
            ) from exc
    return True


def _postpone(pending: PendingBatch, exc: Exception) -> None:
    pending.attempts += 1
    pending.retry_at = timezone.now() + retry_delay(
        pending.attempts, first_seconds=FIRST_RETRY_SECONDS, last_seconds=LAST_RETRY_SECONDS
    )
    pending.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    pending.save(update_fields=["attempts", "retry_at", "last_error"])
