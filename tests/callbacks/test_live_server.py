"""A real HTTP request over a socket to the running app, applied by a real worker."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from callbacks import inbox
from callbacks.models import CallbackLog
from profiles.models import Profile
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import celery_worker, wait_until_applied  # noqa: F401  (fixture)

from .conftest import payload


@pytest.mark.django_db(transaction=True)
def test_netcore_posts_its_native_payload_over_http(live_server, celery_worker):  # noqa: F811
    """Through the socket, the inbox and a real Celery worker on the configured broker."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.NETCORE)
    url = live_server.url + provider.callback_path
    with httpx.Client(timeout=10) as http:
        probe = http.head(url)
        response = http.post(
            url,
            content=payload("netcore_native.json"),
            headers={"Content-Type": "application/json"},
        )
        replay = http.post(url, content=payload("netcore_native.json"))
        wrong = http.get(url)
        unknown = http.post(live_server.url + "/callbacks/unknown-token/", content=b"[]")
    wait_until_applied()
    assert probe.status_code == 200
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Callback processed successfully"}
    assert replay.json()["status"] == "success"
    assert wrong.status_code == 405
    assert unknown.status_code == 404
    assert Profile.objects.get(email="grace@example.com").status == Profile.Status.INACTIVE
    assert Profile.objects.get(email="linus@example.com").status == Profile.Status.ACTIVE
    assert list(CallbackLog.objects.values_list("method", "status_code", "duplicates")) == [
        ("POST", 200, 11),
        ("POST", 200, 0),
        ("HEAD", 200, 0),
    ]


def chunks(body: bytes, size: int = 100):
    """The body as an iterator, which httpx sends with Transfer-Encoding: chunked."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.django_db(transaction=True)
def test_the_token_with_a_nul_byte_is_404_over_http(live_server):
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SMTP)
    with httpx.Client(timeout=10) as http:
        for path in ("/callbacks/%00/", f"{provider.callback_path[:-1]}%00/"):
            response = http.post(live_server.url + path, content=b"[]")
            assert response.status_code == 404
            assert response.json() == {"status": "error", "message": "Not found", "error_code": 404}


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_the_server_cannot_read_is_411_not_invalid(live_server):
    """Django's development server hands chunks over undecoded: ask for a length."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SMTP)
    with httpx.Client(timeout=10) as http:
        response = http.post(
            live_server.url + provider.callback_path,
            content=chunks(payload("legacy_bounce_groups.json")),
        )
    assert response.status_code == 411
    assert response.json() == {"status": "error", "message": "Length required", "error_code": 411}
    assert CallbackLog.objects.get().status_code == 411


GUNICORN_BODY_LIMIT = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_server(tmp_path):
    """The app under gunicorn, which decodes chunked bodies, on the test database."""
    from tests.integration.test_faults import database_url

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url(),
        CALLBACK_MAX_BODY_BYTES=str(GUNICORN_BODY_LIMIT),
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
            + ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--config", "/dev/null"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/callbacks/ready-check/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_under_gunicorn(gunicorn_server):
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SMTP)
    url = gunicorn_server + provider.callback_path
    with httpx.Client(timeout=10) as http:
        response = http.post(url, content=chunks(payload("legacy_bounce_groups.json")))
        too_large = http.post(url, content=chunks(b"[" + b" " * GUNICORN_BODY_LIMIT + b"]"))
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Callback processed successfully"}
    assert too_large.status_code == 413
    inbox.apply_pending()
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).exists()
