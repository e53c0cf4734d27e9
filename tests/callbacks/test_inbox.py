"""The callback inbox: accepted first, applied by a worker, exactly once, failures retried."""

import secrets
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callbacks import inbox, services
from callbacks.models import CallbackLog, InboxWakeup, PendingBatch
from profiles.models import Profile
from providers.models import EmailProvider

from .conftest import payload, requires_postgres

pytestmark = pytest.mark.django_db

INACTIVE = Profile.Status.INACTIVE


def accept_only(provider, body: bytes):
    """POST without applying: what the ESP sees before any worker has run."""
    return Client().post(provider.callback_path, data=body, content_type="application/json")


def test_the_answer_comes_before_the_profiles_change_and_the_worker_applies_it(smtp_provider):
    response = accept_only(smtp_provider, payload("generic_v2_nested.json"))
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Callback processed successfully"}
    log = CallbackLog.objects.get()
    assert log.is_waiting
    assert (log.processed, log.kind_counts, log.applied_at) == (5, {}, None)
    assert not Profile.objects.filter(status=INACTIVE).exists()

    assert inbox.apply_pending() == 1

    log.refresh_from_db()
    assert not log.is_waiting
    assert log.applied_at is not None
    assert log.kind_counts["hard_bounce"] == 1
    assert Profile.objects.filter(status=INACTIVE).exists()
    assert not PendingBatch.objects.exists()


def test_a_batch_is_applied_once_however_often_workers_run(smtp_provider):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    assert inbox.apply_pending() == 1
    states = list(Profile.objects.values_list("email", "status", "soft_bounce_count"))
    assert inbox.apply_pending() == 0
    assert inbox.apply_pending() == 0
    assert list(Profile.objects.values_list("email", "status", "soft_bounce_count")) == states
    assert CallbackLog.objects.get().duplicates == 0


def test_batches_apply_in_the_order_they_were_accepted(smtp_provider):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    inbox.apply_pending()
    first, second = CallbackLog.objects.order_by("id")
    assert first.duplicates == 0
    assert second.duplicates == second.processed
    assert first.applied_at <= second.applied_at


def test_a_failing_batch_waits_with_backoff_and_the_next_one_still_applies(
    smtp_provider, monkeypatch
):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    accept_only(smtp_provider, payload("generic_v2_flat.json"))
    real_apply = services.apply_events
    calls = []

    def fail_first(provider, events, **kwargs):
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("lost the database for a moment")
        return real_apply(provider, events, **kwargs)

    monkeypatch.setattr(services, "apply_events", fail_first)
    before = timezone.now()
    assert inbox.apply_pending() == 1

    waiting = PendingBatch.objects.get()
    first_log, second_log = CallbackLog.objects.order_by("id")
    assert waiting.log == first_log and first_log.is_waiting and not second_log.is_waiting
    assert waiting.attempts == 1
    assert waiting.last_error == "RuntimeError: lost the database for a moment"
    assert before + timedelta(seconds=9) < waiting.retry_at < timezone.now() + timedelta(seconds=11)

    assert inbox.apply_pending() == 0  # not due yet
    PendingBatch.objects.update(retry_at=timezone.now())
    assert inbox.apply_pending() == 1
    first_log.refresh_from_db()
    assert first_log.applied_at is not None
    assert not PendingBatch.objects.exists()


def test_the_retry_delay_doubles_up_to_an_hour(smtp_provider, monkeypatch):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))

    def broken(*args, **kwargs):
        raise RuntimeError("still broken")

    monkeypatch.setattr(services, "apply_events", broken)
    delays = []
    for _ in range(11):
        PendingBatch.objects.update(retry_at=timezone.now())
        inbox.apply_pending()
        pending = PendingBatch.objects.get()
        delays.append(round((pending.retry_at - timezone.now()).total_seconds() / 10) * 10)
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]


def test_a_run_out_of_time_hands_over_to_a_fresh_task(smtp_provider, monkeypatch):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    published = []
    monkeypatch.setattr(inbox, "publish", lambda tasks=1: published.append(tasks))
    assert inbox.apply_pending(budget_seconds=0) == 0
    assert published == [1]
    assert PendingBatch.objects.exists()


def test_a_sample_callback_never_waits_in_the_inbox(client_logged_in, smtp_provider):
    client_logged_in.post(reverse("callbacks:sample", args=[smtp_provider.pk]))
    log = CallbackLog.objects.get()
    assert log.is_sample and not log.is_waiting and log.kind_counts
    assert not PendingBatch.objects.exists()


def test_an_empty_or_refused_batch_leaves_nothing_waiting(smtp_provider):
    accept_only(smtp_provider, b"[]")
    accept_only(smtp_provider, b"{broken")
    assert not PendingBatch.objects.exists()
    assert not any(log.is_waiting for log in CallbackLog.objects.all())


@pytest.mark.django_db(transaction=True)
def test_the_accepted_batch_is_handed_to_a_worker_after_commit(smtp_provider, monkeypatch):
    published = []
    monkeypatch.setattr(
        inbox, "publish", lambda tasks=1: published.append(PendingBatch.objects.count())
    )
    with transaction.atomic():
        accept_only(smtp_provider, payload("generic_v2_nested.json"))
        assert published == []
    assert published == [1]


@pytest.fixture
def published(monkeypatch):
    """What the endpoint asked the broker for: one entry per task it would have queued."""
    calls = []

    def publish(tasks=1):
        calls.extend([PendingBatch.objects.count()] * tasks)

    monkeypatch.setattr(inbox, "publish", publish)
    return calls


def accept_committed(provider, body: bytes, capture) -> None:
    """POST a batch and run what the endpoint does once its transaction has committed."""
    with capture(execute=True):
        assert accept_only(provider, body).status_code == 200


def test_a_flood_of_batches_wakes_the_workers_once(
    smtp_provider, published, django_capture_on_commit_callbacks, settings
):
    settings.CALLBACK_WAKE_TASKS = 3
    for name in ["generic_v2_nested.json", "generic_v2_flat.json", "generic_v2_nested.json"]:
        accept_committed(smtp_provider, payload(name), django_capture_on_commit_callbacks)
    assert published == [1, 1, 1]  # one task per worker process; later batches queue none
    assert InboxWakeup.objects.count() == 1

    assert inbox.apply_pending() == 3
    assert not InboxWakeup.objects.exists()  # it found the inbox empty: the next batch asks
    accept_committed(
        smtp_provider, payload("generic_v2_flat.json"), django_capture_on_commit_callbacks
    )
    assert published == [1, 1, 1, 1, 1, 1]


def test_a_batch_stored_while_the_worker_finishes_is_applied_by_it(
    smtp_provider, published, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """The race the second look exists for: the worker has found nothing due; before it
    withdraws the request, a batch is committed and, seeing the request, queues nothing."""
    settings.CALLBACK_WAKE_TASKS = 1
    accept_committed(
        smtp_provider, payload("generic_v2_nested.json"), django_capture_on_commit_callbacks
    )
    withdraw = inbox._clear_wakeup
    late = []

    def batch_arrives_then_withdraw():
        if not late:
            late.append(True)
            accept_committed(
                smtp_provider, payload("generic_v2_flat.json"), django_capture_on_commit_callbacks
            )
        withdraw()

    monkeypatch.setattr(inbox, "_clear_wakeup", batch_arrives_then_withdraw)
    assert inbox.apply_pending() == 2
    assert published == [1]  # the late batch queued no task, and was not left behind
    assert not PendingBatch.objects.exists()


def test_a_request_the_broker_refused_is_withdrawn(
    smtp_provider, monkeypatch, django_capture_on_commit_callbacks
):
    from callbacks import tasks

    attempts = []

    def unreachable(*args, **kwargs):
        attempts.append(True)
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.apply_pending_callbacks, "apply_async", unreachable)
    for name in ["generic_v2_nested.json", "generic_v2_flat.json"]:
        accept_committed(smtp_provider, payload(name), django_capture_on_commit_callbacks)
    assert attempts == [True, True]  # no worker was asked, so each batch tries again
    assert not InboxWakeup.objects.exists()


def test_a_broker_outage_loses_no_batch(smtp_provider, monkeypatch):
    from callbacks import tasks

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.apply_pending_callbacks, "apply_async", unreachable)
    inbox.publish()  # logs and returns: the batch stays for the sweep
    response = accept_only(smtp_provider, payload("generic_v2_nested.json"))
    assert response.status_code == 200
    assert tasks.apply_pending_callbacks() == 1  # the beat sweep's run


def test_the_inbox_keeps_the_body_as_posted_and_the_worker_parses_it(make_provider):
    provider = make_provider(EmailProvider.Kind.SENDGRID)
    body = payload("sendgrid_events.json")
    accept_only(provider, body)
    assert bytes(PendingBatch.objects.get().body) == body
    assert not Profile.objects.exists()

    assert inbox.apply_pending() == 1

    log = CallbackLog.objects.get()
    assert log.applied_at is not None
    assert sum(log.kind_counts.values()) == log.processed
    assert log.kind_counts["hard_bounce"] >= 1
    assert Profile.objects.filter(status=INACTIVE).exists()


def test_the_log_and_its_batch_are_stored_as_save_would_store_them(smtp_provider):
    log = CallbackLog(
        provider=smtp_provider,
        payload_format="generic_v2",
        status_code=200,
        events_total=6,
        processed=5,
        failed=1,
        error="#3: Invalid email format",
        body_excerpt='{"version": "v2"',
    )
    body = payload("generic_v2_nested.json")
    with CaptureQueriesContext(connection) as queries:
        inbox._store(log, body)
    if connection.vendor == "postgresql":
        assert len(queries) == 1  # no BEGIN, no COMMIT, one insert feeding the other

    stored = CallbackLog.objects.get()
    assert (stored.pk, log._state.adding) == (log.pk, False)
    fields = [f.attname for f in CallbackLog._meta.concrete_fields]
    assert [getattr(stored, name) for name in fields] == [getattr(log, name) for name in fields]
    assert stored.kind_counts == {} and stored.received_at is not None
    batch = PendingBatch.objects.get()
    assert (bytes(batch.body), batch.attempts) == (body, 0)
    assert batch.retry_at <= timezone.now()


def test_the_log_and_the_provider_page_show_what_is_still_waiting(
    client_logged_in, smtp_provider, monkeypatch
):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    accept_only(smtp_provider, payload("generic_v2_flat.json"))
    monkeypatch.setattr(services, "apply_events", lambda *a, **k: 1 / 0)
    inbox.apply_pending()  # both fail once

    with CaptureQueriesContext(connection) as queries:
        log_page = client_logged_in.get(reverse("callbacks:log", args=[smtp_provider.pk]))
        detail = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    assert len(queries) <= 30
    sql = " ".join(query["sql"] for query in queries)
    for column in ('"callbacks_pendingbatch"."events"', '"callbacks_pendingbatch"."body"'):
        assert column not in sql  # a few hundred kB a batch: never for a page
    for html in (log_page.content.decode(), detail.content.decode()):
        assert html.count("Waiting to be applied") == 2
        assert "1 failed attempt: ZeroDivisionError: division by zero" in html

    monkeypatch.undo()
    PendingBatch.objects.update(retry_at=timezone.now())
    inbox.apply_pending()
    log_page = client_logged_in.get(reverse("callbacks:log", args=[smtp_provider.pk]))
    assert "Waiting to be applied" not in log_page.content.decode()


@requires_postgres
def test_pending_bodies_are_compressed_with_lz4():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'callbacks_pendingbatch'::regclass AND attname = 'body'"
        )
        assert cursor.fetchone()[0] == "l"  # pglz, the default, took three times as long


@requires_postgres
def test_the_next_batch_is_found_without_walking_the_callback_log(smtp_provider):
    """A backlog waits behind requests applied earlier. The oldest batch must be picked from
    the inbox alone: picked from its join with the log, PostgreSQL may walk the log's whole
    history in id order to reach it (it did, under load)."""
    now = timezone.now()
    excerpt = secrets.token_hex(1000)  # as long as a real excerpt, and as incompressible
    logs = CallbackLog.objects.bulk_create(
        CallbackLog(provider=smtp_provider, status_code=200, body_excerpt=excerpt, applied_at=now)
        for _ in range(4000)
    )
    PendingBatch.objects.bulk_create(PendingBatch(log=log, body=b"[]") for log in logs[3000:])
    CallbackLog.objects.filter(pk__gte=logs[3000].pk).update(applied_at=None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE callbacks_callbacklog, callbacks_pendingbatch")

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert inbox._lock_next_due().log_id == logs[3000].pk
    assert len(queries) == 1
    sql = inbox.lock_sql(inbox.DUE, skip_locked=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", [timezone.now()])
        [[plan]] = cursor.fetchone()
    [pick] = plan_nodes(plan["Plan"], "LockRows")  # where the batch is chosen and locked
    assert relations(pick) == {"callbacks_pendingbatch"}
    assert plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"] < 50


def plan_nodes(node: dict, node_type: str) -> list[dict]:
    found = [node] if node["Node Type"] == node_type else []
    return found + [n for child in node.get("Plans", []) for n in plan_nodes(child, node_type)]


def relations(node: dict) -> set[str]:
    names = {node["Relation Name"]} if "Relation Name" in node else set()
    return names.union(*(relations(child) for child in node.get("Plans", [])))


def test_the_inbox_is_swept_on_the_beat_schedule():
    from config.celery_app import app as celery_app

    [entry] = [
        entry
        for entry in celery_app.conf.beat_schedule.values()
        if entry["task"] == "callbacks.tasks.apply_pending_callbacks"
    ]
    assert entry["task"] in celery_app.tasks
    assert 0 < float(entry["schedule"]) <= 300


def test_queueing_the_worker_never_retries_against_a_broker_that_is_away(monkeypatch):
    from callbacks import tasks

    calls = []
    monkeypatch.setattr(
        tasks.apply_pending_callbacks, "apply_async", lambda *a, **k: calls.append(k)
    )
    inbox.publish()
    assert calls == [{"retry": False}]


def test_on_sqlite_the_worker_pauses_between_batches_for_waiting_requests(
    smtp_provider, monkeypatch
):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    accept_only(smtp_provider, payload("generic_v2_flat.json"))
    pauses = []
    monkeypatch.setattr(inbox.time, "sleep", pauses.append)
    assert inbox.apply_pending() == 2
    expected = [inbox.SQLITE_PAUSE_SECONDS] * 2 if connection.vendor == "sqlite" else []
    assert pauses == expected


def test_nobody_can_delete_a_waiting_batch_in_the_admin(admin_client_logged_in, smtp_provider):
    accept_only(smtp_provider, payload("generic_v2_nested.json"))
    pending = PendingBatch.objects.get()
    url = reverse("admin:callbacks_pendingbatch_delete", args=[pending.pk])
    assert admin_client_logged_in.post(url, {"post": "yes"}).status_code == 403
    assert PendingBatch.objects.exists()
