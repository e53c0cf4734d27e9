"""The shipped gunicorn.conf.py, run for real: slow clients and the logs it writes."""

import runpy
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from gunicorn.config import Config

from tests.factories import EmailProviderFactory
from tests.security.processes import (
    ROOT,
    ServerProcess,
    database_url_of_tests,
    free_port,
    server_env,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """gunicorn with the shipped config (its default workers and threads) on a loopback port."""
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"]
        + ["--bind", f"127.0.0.1:{port}"],
        server_env(DATABASE_URL=database_url_of_tests(), WEB_CONCURRENCY="2"),
        tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
        port,
    )
    try:
        server.wait_until_answering()
        yield server
    finally:
        server.stop()


class SlowClient:
    """Opens a POST and trickles its body, a byte now and then, until stopped."""

    def __init__(self, url: str, path: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
        )
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self) -> None:
        while not self.stopped.wait(0.2):
            try:
                self.sock.sendall(b"a")
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


def timed_health(url: str) -> tuple[int, float]:
    started = time.monotonic()
    with urllib.request.urlopen(url + "/health/", timeout=10) as response:
        return response.status, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_health_answers_within_a_second_while_two_slow_clients_hold_connections(gunicorn):
    path = EmailProviderFactory(nickname="Slowly fed").callback_path  # its view reads the body
    clients = [SlowClient(gunicorn.url, path) for _ in range(2)]
    try:
        time.sleep(0.5)  # both bodies are being read; nothing to poll for but the clock
        answers = [timed_health(gunicorn.url) for _ in range(3)]
    finally:
        for client in clients:
            client.close()
    assert all(status == 200 for status, _ in answers)
    assert max(seconds for _, seconds in answers) < 1, answers


@pytest.mark.django_db(transaction=True)
def test_the_access_log_never_shows_a_callback_token(gunicorn):
    provider = EmailProviderFactory(nickname="Logged")
    path = provider.callback_path
    urllib.request.urlopen(urllib.request.Request(gunicorn.url + path, data=b"[]")).close()
    with pytest.raises(urllib.error.HTTPError):  # 405
        urllib.request.urlopen(gunicorn.url + path + "?from=probe")
    output = gunicorn.wait_for_output('"GET /callbacks/[redacted]/?from=probe HTTP/1.1" 405')
    assert '"POST /callbacks/[redacted]/ HTTP/1.1" 200' in output
    assert provider.callback_token not in output


def test_the_error_log_never_shows_a_callback_token(tmp_path):
    cfg = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in cfg.settings:
            cfg.set(name, value)
    cfg.set("errorlog", str(tmp_path / "error.log"))
    log = cfg.logger_class(cfg)
    token = "9f3c2a71TokenThatMustNotBeLogged"
    try:
        log.error("Error handling request %s", f"/callbacks/{token}/")
        try:
            raise RuntimeError(f"failed on /callbacks/{token}/?x=1")
        except RuntimeError:
            log.exception("Error handling request /callbacks/%s/", token)
    finally:
        for handler in list(log.error_log.handlers):
            log.error_log.removeHandler(handler)
            handler.close()
    text = (tmp_path / "error.log").read_text()
    assert text.count("Error handling request /callbacks/[redacted]/") == 2, text
    assert "RuntimeError: failed on /callbacks/[redacted]/?x=1" in text
    assert token not in text
