"""Real servers on loopback that stand in for an SMTP server and the ESP web APIs.

Reusable by any test (import the fixtures into a conftest). Every server binds port 0 and is
stopped by its fixture's teardown.

Fixtures:
    tls_ca            trustme CA; ``settings.SMTP_CA_FILE`` points at its PEM so adapters trust it
    smtp_server       factory: ``smtp_server(scheme="smtp"|"smtps"|"starttls", auth=True,
                      refuse={"addr": "550 5.1.1 ..."}, auth_exclude=["PLAIN"])``
                      → `SmtpServer` (started, stopped at teardown); AUTH user/password are
                      SMTP_USER / SMTP_PASSWORD; ``server.messages`` holds `ReceivedMail`s
    silent_server     a TCP server that accepts connections and never says a word
    closed_port       a loopback port nothing listens on
    esp_api           factory: ``esp_api()`` → `StubApi` (loopback HTTP server, scripted replies)
    sendgrid_api      `StubApi` with ``settings.SENDGRID_API_URL`` pointing at it
    netcore_api       `StubApi` with ``settings.NETCORE_API_URL`` pointing at it
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "mailer"
SMTP_PASSWORD = "correct-horse-battery-staple"


# --- SMTP ----------------------------------------------------------------------------
@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls_version: str | None
    auth_login: str | None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


class RecordingHandler:
    """aiosmtpd handler that keeps every message and refuses the recipients it is told to."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = {k.lower(): v for k, v in (refuse or {}).items()}
        self.messages: list[ReceivedMail] = []
        self.received = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        ssl_object = server.transport.get_extra_info("ssl_object")
        login = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or envelope.content,
                tls_version=ssl_object.version() if ssl_object else None,
                auth_login=login,
            )
        )
        self.received.set()
        return "250 2.0.0 Message accepted for delivery"


def check_password(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class _PortZeroController(Controller):
    """aiosmtpd's threaded controller, bound to a free port (port 0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    host: str
    port: int
    scheme: str
    handler: RecordingHandler
    controller: Controller = field(repr=False)

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.messages


def start_smtp_server(
    scheme: str = "smtp",
    *,
    auth: bool = False,
    refuse: dict[str, str] | None = None,
    server_context: ssl.SSLContext | None = None,
    auth_exclude: list[str] | None = None,
) -> SmtpServer:
    handler = RecordingHandler(refuse)
    kwargs = {"ident": "Postdesk test SMTP"}
    if auth:
        kwargs.update(authenticator=check_password, auth_required=True)
        # aiosmtpd only knows about STARTTLS; with SMTPS or plain SMTP it must allow AUTH.
        kwargs["auth_require_tls"] = scheme == "starttls"
        kwargs["auth_exclude_mechanism"] = auth_exclude or []
    if scheme == "starttls":
        kwargs.update(tls_context=server_context, require_starttls=True)
    controller = _build_controller(handler, scheme, server_context, kwargs)
    controller.start()
    return SmtpServer("127.0.0.1", controller.port, scheme, handler, controller)


def _build_controller(handler, scheme, server_context, kwargs) -> Controller:
    return _PortZeroController(
        handler,
        hostname="127.0.0.1",
        port=0,
        ssl_context=server_context if scheme == "smtps" else None,
        ready_timeout=5,
        server_hostname="localhost",
        **kwargs,
    )


@pytest.fixture
def tls_ca(tmp_path, settings):
    """A throwaway CA; the adapters trust it through settings.SMTP_CA_FILE."""
    ca = trustme.CA()
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings.SMTP_CA_FILE = str(ca_file)
    return ca


@pytest.fixture
def smtp_server(tls_ca):
    """Factory of started aiosmtpd servers (TLS certificate for 127.0.0.1 and localhost)."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    started: list[SmtpServer] = []

    def start(scheme="smtp", *, auth=False, refuse=None, auth_exclude=None) -> SmtpServer:
        server = start_smtp_server(
            scheme,
            auth=auth,
            refuse=refuse,
            server_context=server_context,
            auth_exclude=auth_exclude,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


class LoopbackTcpServer:
    """A bare TCP server on a free loopback port; subclasses say what to do with a connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class SilentServer(LoopbackTcpServer):
    """Accepts TCP connections and never answers: the "server that never replies"."""

    def __init__(self) -> None:
        self.connections: list[socket.socket] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        self.connections.append(conn)

    def stop(self) -> None:
        super().stop()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was free a moment ago and that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- ESP web APIs ----------------------------------------------------------------------
@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: object = b""
    headers: dict[str, str] = field(default_factory=dict)


class StubApi:
    """A loopback HTTP server that records each request and answers from a script.

    ``api.reply(202, headers={"X-Message-Id": "abc"})`` queues the next answer; with nothing
    queued it answers 500, so a test never passes by accident.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.replies: list[Reply] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append(
                    RecordedRequest(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                reply = stub.replies.pop(0) if stub.replies else Reply(500, {"error": "no reply"})
                payload = reply.body
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, format, *args):  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reply(self, status: int, body: object = b"", headers: dict | None = None) -> None:
        self.replies.append(Reply(status, body, headers or {}))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def esp_api():
    started: list[StubApi] = []

    def start() -> StubApi:
        api = StubApi()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def sendgrid_api(esp_api, settings) -> StubApi:
    api = esp_api()
    settings.SENDGRID_API_URL = api.url
    return api


@pytest.fixture
def netcore_api(esp_api, settings) -> StubApi:
    api = esp_api()
    settings.NETCORE_API_URL = api.url
    return api


# --- a real Celery worker -----------------------------------------------------------------------


@pytest.fixture
def celery_worker():
    """A real Celery worker (solo pool, in a thread) consuming from the configured broker."""
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from config.celery_app import app as celery_app

    celery_app.control.purge()  # messages an earlier test published but nobody consumed
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"
    ) as worker:
        yield worker
    connections.close_all()


def wait_until_finished(pk: int, timeout: float = 20):
    """Poll a TestEmail until it is sent or failed."""
    import time

    from providers.models import TestEmail

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        test_email = TestEmail.objects.get(pk=pk)
        if test_email.is_finished:
            return test_email
        time.sleep(0.1)
    raise AssertionError(f"test email {pk} still {test_email.status} after {timeout}s")


def wait_until_applied(timeout: float = 20) -> None:
    """Poll until the worker has applied every callback batch the inbox accepted."""
    import time

    from callbacks.models import PendingBatch

    deadline = time.monotonic() + timeout
    while PendingBatch.objects.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"callback batches still waiting after {timeout}s")
        time.sleep(0.05)
