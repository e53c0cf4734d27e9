"""A local SMTP sink for the embedded default: accepts every message and keeps it on disk.

Listens on 127.0.0.1:DEMO_SMTP_PORT (1025) without TLS, accepts any AUTH (or none), prints
each message's From / To / Subject and saves it as var/sink/<time>-<n>.eml, so a newcomer can
send a test email from the dashboard and see it arrive. Never expose it beyond loopback.
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.conf import settings
from django.core.management.base import BaseCommand


class SinkHandler:
    def __init__(self, directory: Path, report) -> None:
        self.directory = directory
        self.report = report
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        data = envelope.original_content or envelope.content
        message = message_from_bytes(data, policy=policy.default)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{next(self.counter):04d}.eml"
        path.write_bytes(data)
        self.report(
            f"Received: From {message['From']} To {', '.join(envelope.rcpt_tos)} "
            f"Subject {message['Subject']!r} → {path}"
        )
        return "250 2.0.0 Stored by the Postdesk SMTP sink"


def accept_any_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, handled=False, auth_data=auth_data)


class _SinkController(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]  # the real port when given 0
        super()._trigger_server()


def start_sink(host: str, port: int, directory: Path, report=print) -> Controller:
    """Start the sink in a background thread; the caller stops it with `.stop()`."""
    directory.mkdir(parents=True, exist_ok=True)
    controller = _SinkController(
        SinkHandler(directory, report),
        hostname=host,
        port=port,
        server_hostname="postdesk-sink.localhost",
        ident="Postdesk SMTP sink",
        authenticator=accept_any_login,
        auth_require_tls=False,
    )
    controller.start()
    return controller


class Command(BaseCommand):
    help = "Run a local SMTP sink that saves every message under var/sink/ (demo only)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.DEMO_SMTP_PORT)
        parser.add_argument("--dir", default=str(Path(settings.BASE_DIR) / "var" / "sink"))

    def handle(self, *args, host, port, dir, **options):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per message is enough
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        controller = start_sink(host, port, Path(dir), report=self.report)
        self.stdout.write(
            self.style.SUCCESS(f"SMTP sink listening on {host}:{controller.port}; saving to {dir}")
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()

    def report(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
