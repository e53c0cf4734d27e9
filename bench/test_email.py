"""Test email latency: from the "Send test email" POST to the SMTP server's receipt.

    .venv/bin/python -m bench.test_email --sends 50

Runs a real Celery worker (subprocess) on Redis (CELERY_BROKER_URL, default
redis://127.0.0.1:6379/9) against the benchmark database, and a loopback SMTP server in this
process. Each POST goes through Django's handler here; the clock stops when the SMTP server
has the whole message.
"""

import argparse
import logging
import os
import socket
import statistics
import threading
import time

from aiosmtpd.controller import Controller

from bench.common import celery_worker, ensure_database, percentile, setup_django


class ArrivalClock:
    """An aiosmtpd handler that notes when each recipient's message arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        now = time.perf_counter()
        with self.condition:
            for recipient in envelope.rcpt_tos:
                self.arrived[recipient] = now
            self.condition.notify_all()
        return "250 OK"

    def wait_for(self, recipient: str, timeout: float) -> float:
        with self.condition:
            self.condition.wait_for(lambda: recipient in self.arrived, timeout=timeout)
            return self.arrived[recipient]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=50)
    args = parser.parse_args()

    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
    setup_django()
    ensure_database()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from providers.models import EmailProvider

    clock = ArrivalClock()
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # not a line per SMTP command
    smtp = Controller(clock, hostname="127.0.0.1", port=port)
    smtp.start()
    provider, _ = EmailProvider.objects.update_or_create(
        nickname="Bench loopback SMTP",
        defaults={
            "kind": EmailProvider.Kind.SMTP,
            "host": "127.0.0.1",
            "port": port,
            "scheme": EmailProvider.Scheme.SMTP,
            "username": "",
            "from_address": "bench@bench.example",
        },
    )
    worker_env = {
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "DEBUG": "false",
    }
    try:
        with celery_worker(worker_env, "--pool=solo"):
            setup_test_environment()
            user, _ = get_user_model().objects.get_or_create(username="bench")
            client = Client()
            client.force_login(user)
            url = reverse("providers:send_test", args=[provider.pk])
            latencies = []
            for n in range(args.sends + 3):
                recipient = f"latency{n}-{time.time_ns()}@bench.example"
                started = time.perf_counter()
                response = client.post(url, {"recipient": recipient})
                assert response.status_code == 302, response.status_code
                arrived = clock.wait_for(recipient, timeout=30)
                if n >= 3:  # the first sends warm the worker's connections
                    latencies.append((arrived - started) * 1000)
    finally:
        smtp.stop()
    print(
        f"Test email, POST to SMTP receipt through a Celery worker on Redis "
        f"({len(latencies)} sends, {os.cpu_count()} cores):"
    )
    print(
        f"  p50 {statistics.median(latencies):.0f} ms, p90 {percentile(latencies, 0.9):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
