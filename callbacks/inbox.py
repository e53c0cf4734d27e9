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
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, ProtectedError
from django.utils import timezone

from callbacks import replays, services
from callbacks.formats import named
from callbacks.models import CallbackLog, InboxWakeup, PendingBatch
from common.backoff import retry_delay
from common.bulk_sql import adapter, bound_cursor, insert_values, model_defaults, table_name
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
    providers = ProviderCache()
    while time.monotonic() < deadline:
        outcome = _apply_next(providers)
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


class ProviderCache(dict):
    """The providers one run of the worker applies batches for, each read once.

    A run lasts at most `APPLY_BUDGET_SECONDS`, so a provider renamed meanwhile names its
    events with the nickname it had when they arrived. A deleted provider's batches are
    applied by the deletion itself (`apply_before_provider_delete`), so none is left to read
    a deleted provider from here.
    """

    def __missing__(self, provider_id: int) -> EmailProvider:
        provider = self[provider_id] = EmailProvider.objects.get(pk=provider_id)
        return provider


@dataclass(frozen=True, slots=True)
class ClaimedBatch:
    """A due batch locked by this worker, with what applying it needs from its log."""

    log_id: int
    body: bytes
    attempts: int
    payload_format: str
    received_at: datetime
    provider_id: int
    processed: int  # its readable events, as the endpoint counted them


def _apply_next(providers: ProviderCache) -> int | None:
    """Apply the oldest due batch: 1 if it was applied, 0 if it failed, None if none was due."""
    with transaction.atomic():
        batch = _lock_next_due()
        if batch is None:
            return None
        try:
            with transaction.atomic():
                _apply(batch, providers[batch.provider_id])
            return 1
        except Exception as exc:  # the batch stays; the next ones still go ahead
            log.exception("Callback batch of log %s failed", batch.log_id)
            _postpone(batch, exc)
            return 0


def _lock_next_due() -> ClaimedBatch | None:
    """The oldest due batch, locked for this worker."""
    return _lock_oldest(DUE, [timezone.now()], skip_locked=True)


DUE = "retry_at <= %s"


def _lock_oldest(condition: str, params: list, *, skip_locked: bool) -> ClaimedBatch | None:
    """The oldest batch WHERE `condition` (on the inbox's columns), locked, with its log."""
    with bound_cursor() as cursor:
        cursor.execute(lock_sql(condition, skip_locked=skip_locked), [adapter()(v) for v in params])
        row = cursor.fetchone()
    if row is None:
        return None
    log_id, body, attempts, payload_format, received_at, provider_id, processed = row
    if not timezone.is_aware(received_at):  # SQLite's, as its driver reads it
        received_at = connection.ops.convert_datetimefield_value(received_at, None, connection)
    return ClaimedBatch(
        log_id, bytes(body), attempts, payload_format, received_at, provider_id, processed
    )


def lock_sql(condition: str, *, skip_locked: bool) -> str:
    """SQL of the oldest batch WHERE `condition`, locked, with what its log says.

    The batch is picked by a subquery on the inbox alone, then joined: picked from the join,
    PostgreSQL walked the callback log in id order, every request it ever logged, to reach
    the oldest waiting batch (17 ms behind 8,000 applied requests, and growing). The body
    comes back in binary (`bound_cursor`): through Django's text cursor PostgreSQL
    hex-encodes it, which doubled the bytes and cost a worker more than the rest of reading
    a batch.
    """
    lock = ""
    if connection.features.has_select_for_update:
        lock = connection.ops.for_update_sql(skip_locked=skip_locked)
    pending, logs = table_name(PendingBatch), table_name(CallbackLog)
    return (
        "SELECT b.log_id, b.body, b.attempts, l.payload_format, l.received_at, l.provider_id, "  # noqa: S608
        "l.processed "
        f"FROM {pending} AS b JOIN {logs} AS l ON l.id = b.log_id "
        f"WHERE b.log_id IN (SELECT log_id FROM {pending} WHERE {condition} "
        f"ORDER BY log_id LIMIT 1 {lock})"
    )


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


def _apply(batch: ClaimedBatch, provider: EmailProvider) -> None:
    body_digest = replays.digest(batch.body)
    if replays.was_applied(provider, body_digest, batch.received_at):
        result = services.count_replay(provider, batch.processed, now=batch.received_at)
        _finish(batch, result, body_digest=None)  # the first copy's receipt starts the window
    else:
        events = named(batch.payload_format).parse(batch.body)
        result = services.apply_events(provider, events, now=batch.received_at)
        _finish(batch, result, body_digest)


def _finish(batch: ClaimedBatch, result: services.ApplyResult, body_digest: bytes | None) -> None:
    """Fill in the batch's log (with the digest of a body applied in full) and take the batch
    out of the inbox."""
    kind_counts = CallbackLog._meta.get_field("kind_counts")
    adapt = adapter()
    values = [
        result.duplicates,
        result.ignored,
        kind_counts.get_db_prep_save(dict(result.counts), connection),
        body_digest,
        adapt(timezone.now()),
        batch.log_id,
        adapt(batch.received_at),  # names the log's partition on PostgreSQL
    ]
    with bound_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table_name(CallbackLog)} SET duplicates = %s, ignored = %s, "  # noqa: S608
            "kind_counts = %s, body_digest = %s, applied_at = %s "
            "WHERE id = %s AND received_at = %s",
            values,
        )
        cursor.execute(
            f"DELETE FROM {table_name(PendingBatch)} WHERE log_id = %s",  # noqa: S608
            [batch.log_id],
        )


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
    logs = table_name(CallbackLog)
    with transaction.atomic():
        batch = _lock_oldest(
            f"log_id IN (SELECT id FROM {logs} WHERE provider_id = %s)",  # noqa: S608
            [provider.pk],
            skip_locked=skip_locked,
        )
        if batch is None:
            return False
        try:
            with transaction.atomic():
                _apply(batch, provider)
        except Exception as exc:
            log.exception("Callback batch of log %s failed before deletion", batch.log_id)
            raise ProtectedError(
                f"An accepted callback batch could not be applied: {exc}",
                list(PendingBatch.objects.filter(pk=batch.log_id)),
            ) from exc
    return True


def _postpone(batch: ClaimedBatch, exc: Exception) -> None:
    attempts = batch.attempts + 1
    PendingBatch.objects.filter(pk=batch.log_id).update(
        attempts=attempts,
        retry_at=timezone.now()
        + retry_delay(attempts, first_seconds=FIRST_RETRY_SECONDS, last_seconds=LAST_RETRY_SECONDS),
        last_error=f"{type(exc).__name__}: {exc}"[:1000],
    )
