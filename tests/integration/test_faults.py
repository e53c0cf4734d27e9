"""Faults survived, nothing lost: things stopped mid-way leave no half-applied batch, no
test email stuck in "sending", no 500.

* the database connection dropping in the middle of applying a callback batch (PostgreSQL);
* a real Celery worker SIGKILLed while a test email is in DATA (Redis), and the stale sweeper;
* an SMTP server that closes the connection mid-DATA.

"Redis unreachable on Send test email" is covered by
tests/providers/test_test_email_views.py::test_unreachable_broker_keeps_the_record_and_says_so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks import inbox, services
from callbacks.models import DailyStat, PendingBatch, ReceivedEvent
from config.celery_app import app as celery_app
from profiles.models import Profile, TimelineEvent
from providers import tasks
from providers.models import EmailProvider, TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from tests.factories import EmailProviderFactory
from tests.servers import LoopbackTcpServer, _PortZeroController

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)
needs_redis = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
    reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
)

_ORIGINAL_ADD_TO_STATS = services.add_to_stats


# --- a. the database connection drops in the middle of a callback batch ----------------------
def v2_batch(count: int) -> bytes:
    """A generic v2 batch whose events touch profiles, timeline, stats and dedupe keys."""
    kinds = ["delivered", "hard_bounce", "soft_bounce", "spam", "unsubscribed"]
    success = [
        {"type": "delivered", "email": f"ok{i}@example.org", "meta": f"m{i}"}
        for i in range(count // 2)
    ]
    failed = [
        {"type": kinds[1 + i % 4], "email": f"bad{i}@example.org", "meta": f"f{i}"}
        for i in range(count - count // 2)
    ]
    return json.dumps({"version": "v2", "events": {"success": success, "failed": failed}}).encode()


def batch_state(provider: EmailProvider) -> dict:
    """Everything a callback batch may write, except the request log."""
    stats = DailyStat.objects.filter(provider=provider).aggregate(
        delivered=Sum("delivered"),
        soft=Sum("soft_bounce"),
        hard=Sum("hard_bounce"),
        spam=Sum("spam"),
        unsubscribed=Sum("unsubscribed"),
        duplicates=Sum("duplicates"),
    )
    return {
        "profiles": sorted(Profile.objects.values_list("email", "status", "soft_bounce_count")),
        "timeline": TimelineEvent.objects.count(),
        "stats": stats,
        "dedupe_keys": ReceivedEvent.objects.filter(provider=provider).count(),
    }


def post_callback(provider: EmailProvider, body: bytes):
    return Client().post(provider.callback_path, data=body, content_type="application/json")


@pytest.fixture
def drop_connection_before_stats(monkeypatch):
    """Kill our own database backend from a second connection once profiles and the timeline
    have been written, so the batch's transaction dies in the middle."""
    calls = []
    original = _ORIGINAL_ADD_TO_STATS

    def terminate_then_continue(*args, **kwargs):
        calls.append(1)
        pid = connection.connection.info.backend_pid
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                # Wait (up to 5 s) until the backend has really gone.
                cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        finally:
            other.close()
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "add_to_stats", terminate_then_continue)
    return calls


@needs_postgres
def test_connection_drop_mid_batch_applies_nothing_and_the_next_run_applies_once(
    drop_connection_before_stats, monkeypatch
):
    provider = EmailProviderFactory(nickname="Relay")
    body = v2_batch(40)
    before = batch_state(provider)

    response = post_callback(provider, body)
    assert response.status_code == 200  # accepted into the inbox: the ESP is done
    with pytest.raises((OperationalError, InterfaceError)):
        inbox.apply_pending()  # the worker's run dies with its connection

    assert drop_connection_before_stats == [1]
    connection.close()  # the test's own handle to the killed backend
    assert batch_state(provider) == before  # profiles and timeline were rolled back too
    assert PendingBatch.objects.get().attempts == 0  # still waiting, not given up

    monkeypatch.setattr(services, "add_to_stats", _ORIGINAL_ADD_TO_STATS)
    assert inbox.apply_pending() == 1
    applied = batch_state(provider)
    assert len(applied["profiles"]) == 40
    assert applied["timeline"] > 0
    assert applied["stats"]["delivered"] == 20
    assert applied["stats"]["duplicates"] in (None, 0)
    assert applied["dedupe_keys"] == 40

    again = post_callback(provider, body)  # the ESP retries anyway
    assert again.status_code == 200
    assert inbox.apply_pending() == 1
    after_replay = batch_state(provider)
    assert after_replay["stats"]["duplicates"] == 40  # counted as duplicates, nothing else
    assert {k: v for k, v in after_replay.items() if k != "stats"} == {
        k: v for k, v in applied.items() if k != "stats"
    }
    assert {k: v for k, v in after_replay["stats"].items() if k != "duplicates"} == {
        k: v for k, v in applied["stats"].items() if k != "duplicates"
    }


def test_database_error_mid_batch_rolls_back_and_the_retry_applies_once(monkeypatch):
    """The same guarantee on any database: an OperationalError after the timeline insert."""
    provider = EmailProviderFactory(nickname="Relay", kind=EmailProvider.Kind.SENDGRID)
    events = [
        {
            "event": "bounce",
            "type": "bounce",
            "email": f"p{i}@example.org",
            "timestamp": 1_700_000_000,
            "sg_event_id": f"ev-{i}",
        }
        for i in range(10)
    ]
    body = json.dumps(events).encode()
    before = batch_state(provider)

    def fail(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "add_to_stats", fail)
    assert post_callback(provider, body).status_code == 200
    assert inbox.apply_pending() == 0
    assert batch_state(provider) == before
    waiting = PendingBatch.objects.get()
    assert waiting.attempts == 1
    assert "server closed the connection" in waiting.last_error

    monkeypatch.setattr(services, "add_to_stats", _ORIGINAL_ADD_TO_STATS)
    PendingBatch.objects.update(retry_at=timezone.now())  # its backoff has passed
    assert inbox.apply_pending() == 1
    applied = batch_state(provider)
    assert applied["stats"]["hard"] == 10
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).count() == 10
    assert post_callback(provider, body).status_code == 200
    assert inbox.apply_pending() == 1
    assert batch_state(provider)["stats"]["hard"] == 10
    assert batch_state(provider)["timeline"] == applied["timeline"]


# --- b. the stale-send sweeper ------------------------------------------------------------------
def sending_row(provider, *, age: timedelta, status=TestEmail.Status.SENDING) -> TestEmail:
    started = timezone.now() - age
    return TestEmail.objects.create(
        provider=provider, recipient="qa@acme.test", status=status, started_at=started, attempts=1
    )


def test_sweeper_fails_only_rows_stuck_in_sending_past_the_timeout(settings):
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 120
    provider = EmailProviderFactory()
    stuck = sending_row(provider, age=timedelta(seconds=121))
    fresh = sending_row(provider, age=timedelta(seconds=60))
    queued = sending_row(provider, age=timedelta(hours=2), status=TestEmail.Status.QUEUED)
    sent = sending_row(provider, age=timedelta(hours=2), status=TestEmail.Status.SENT)

    assert tasks.sweep_stale_test_emails.apply().get() == 1

    stuck.refresh_from_db()
    assert stuck.status == TestEmail.Status.FAILED
    assert stuck.failure_reason == TestEmail.FailureReason.STALE
    assert stuck.finished_at is not None
    for row, status in ((fresh, "sending"), (queued, "queued"), (sent, "sent")):
        assert TestEmail.objects.get(pk=row.pk).status == status
    assert tasks.sweep_stale_test_emails.apply().get() == 0  # nothing left to sweep


def test_sweeper_follows_the_timeout_setting(settings):
    provider = EmailProviderFactory()
    row = sending_row(provider, age=timedelta(seconds=10))
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 30
    assert tasks.sweep_stale_test_emails.apply().get() == 0
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 5
    assert tasks.sweep_stale_test_emails.apply().get() == 1
    assert TestEmail.objects.get(pk=row.pk).failure_reason == TestEmail.FailureReason.STALE


def test_sweeper_runs_on_the_beat_schedule():
    schedule = celery_app.conf.beat_schedule
    [entry] = [e for e in schedule.values() if e["task"].endswith("sweep_stale_test_emails")]
    assert entry["task"] in celery_app.tasks
    assert 0 < float(entry["schedule"]) <= 300
    assert " beat" in (ROOT / "Procfile").read_text()
    assert " -B" in (ROOT / "Procfile.dev").read_text()


def test_a_redelivered_task_reclaims_a_row_its_dead_attempt_left_sending(smtp_server, settings):
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 30
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    dead = sending_row(provider, age=timedelta(seconds=31))

    assert tasks.send_test_email.apply(args=[dead.pk]).get() == DeliveryOutcome.SENT.value

    dead.refresh_from_db()
    assert dead.status == TestEmail.Status.SENT
    assert dead.attempts == 2
    assert len(server.messages) == 1


def test_a_row_a_live_attempt_is_sending_is_not_reclaimed(smtp_server, settings):
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 30
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    live = sending_row(provider, age=timedelta(seconds=5))

    assert deliver_test_email(live) is DeliveryOutcome.SKIPPED
    assert TestEmail.objects.get(pk=live.pk).status == TestEmail.Status.SENDING
    assert server.messages == []


def test_a_row_the_sweeper_failed_is_not_sent_by_a_late_redelivery(smtp_server, settings):
    settings.TEST_EMAIL_STALE_AFTER_SECONDS = 30
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    dead = sending_row(provider, age=timedelta(seconds=31))
    assert tasks.sweep_stale_test_emails.apply().get() == 1

    assert tasks.send_test_email.apply(args=[dead.pk]).get() == DeliveryOutcome.SKIPPED.value

    dead.refresh_from_db()
    assert dead.status == TestEmail.Status.FAILED
    assert dead.failure_reason == TestEmail.FailureReason.STALE
    assert server.messages == []


# --- b. a real worker killed mid-send -----------------------------------------------------------
class StallingHandler:
    """aiosmtpd handler that, while `stall` is set, never answers the end of DATA."""

    def __init__(self) -> None:
        self.stall = True
        self.stalled = threading.Event()
        self.delivered: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if not self.stall:
            self.delivered.append(envelope.content)
            return "250 2.0.0 Accepted"
        self.stalled.set()
        deadline = time.monotonic() + 60
        while self.stall and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return "451 4.3.0 Try again later"


@pytest.fixture
def stalling_smtp():
    handler = StallingHandler()
    controller = _PortZeroController(handler, hostname="127.0.0.1", port=0, ready_timeout=5)
    controller.start()
    yield handler, controller.port
    handler.stall = False
    controller.stop()


WORKER_SETTINGS = """
from config.settings.test import *  # noqa
from config.settings.base import env

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
TEST_EMAIL_STALE_AFTER_SECONDS = 3
SMTP_TIMEOUT_SECONDS = 30
"""


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Real `celery worker --pool=solo` subprocesses, each in its own process group."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        (tmp_path / "faults_worker_settings.py").write_text(WORKER_SETTINGS)
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, visibility_timeout: int) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            DJANGO_SETTINGS_MODULE="faults_worker_settings",
            PYTHONPATH=os.pathsep.join([str(self.tmp_path), str(ROOT)]),
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout),
        )
        log = self.tmp_path / f"{name}.log"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        command += ["--loglevel=INFO", "-n", f"{name}@%h"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((proc, log))
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for _proc, log in self.procs
        )

    def stop_all(self) -> None:
        for proc, _log in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    self.kill(proc)


@pytest.fixture
def workers(tmp_path):
    celery_app.control.purge()
    started = Workers(tmp_path)
    yield started
    started.stop_all()
    connections.close_all()


def wait_for(predicate, timeout: float, what: str, workers: Workers):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")


@needs_postgres
@needs_redis
def test_worker_killed_mid_send_ends_sent_after_redelivery(stalling_smtp, workers):
    handler, port = stalling_smtp
    provider = EmailProviderFactory(host="127.0.0.1", port=port, scheme="smtp", username="")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    tasks.send_test_email.delay(test_email.pk)

    first = workers.start("first", visibility_timeout=3600)
    wait_for(lambda: handler.stalled.wait(0.1), 25, "the first attempt to reach DATA", workers)
    assert TestEmail.objects.get(pk=test_email.pk).status == TestEmail.Status.SENDING
    workers.kill(first)  # SIGKILL mid-DATA: no ack, no chance to record anything
    time.sleep(0.3)
    assert TestEmail.objects.get(pk=test_email.pk).status == TestEmail.Status.SENDING

    handler.stall = False  # the server recovers
    # A short visibility timeout: the second worker restores the unacknowledged message.
    workers.start("second", visibility_timeout=1)

    def finished():
        row = TestEmail.objects.get(pk=test_email.pk)
        return row if row.is_finished else None

    row = wait_for(finished, 30, "the redelivered task to finish the row", workers)
    assert row.status == TestEmail.Status.SENT, (row.failure_reason, row.failure_detail)
    assert row.attempts == 2
    assert len(handler.delivered) == 1


# --- d. the SMTP server closes the connection in the middle of DATA -----------------------------
class HangUpInData(LoopbackTcpServer):
    """A minimal SMTP server that accepts the envelope, says 354, reads a little and hangs up."""

    hangups = 0

    def handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self._converse(conn)

    def _converse(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        reader = conn.makefile("rb")
        conn.sendall(b"220 hangup.test ESMTP\r\n")
        while line := reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-hangup.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                reader.readline()  # the first line of the message, then hang up
                self.hangups += 1
                conn.shutdown(socket.SHUT_RDWR)
                return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 OK\r\n")


@pytest.fixture
def hangup_server():
    server = HangUpInData()
    yield server
    server.stop()


def test_hang_up_mid_data_is_a_transient_connection_error(hangup_server):
    provider = EmailProviderFactory(
        host="127.0.0.1", port=hangup_server.port, scheme="smtp", username=""
    )
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.RETRY

    test_email.refresh_from_db()
    assert hangup_server.hangups == 1
    assert test_email.status == TestEmail.Status.QUEUED  # back in line for the retry
    assert test_email.failure_reason == TestEmail.FailureReason.CONNECTION_ERROR
    assert "S: 354" in test_email.transcript  # the server hung up after DATA began


def test_hang_up_mid_data_ends_failed_after_the_retries_and_the_page_says_so(
    hangup_server, client_logged_in
):
    provider = EmailProviderFactory(
        host="127.0.0.1", port=hangup_server.port, scheme="smtp", username=""
    )
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    tasks.send_test_email.apply(args=[test_email.pk])

    test_email.refresh_from_db()
    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == TestEmail.FailureReason.CONNECTION_ERROR
    assert test_email.attempts == tasks.MAX_RETRIES + 1 == hangup_server.hangups
    status = client_logged_in.get(reverse("providers:test_email_status", args=[test_email.pk]))
    assert status.status_code == 200
    assert status.json()["status"] == "failed"
    assert status.json()["failure_reason_label"] == "SMTP connection error"
    page = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))
    assert page.status_code == 200
    assert b"SMTP connection error" in page.content
