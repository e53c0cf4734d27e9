"""Callback tokens stay out of Django's request log, the development server's log and error
reports, also when the database drops in the middle of a callback request."""

import logging
import sys
import urllib.error
import urllib.request

import pytest
from django.db import connection, connections
from django.test import Client
from django.views.debug import ExceptionReporter

from tests.factories import EmailProviderFactory
from tests.security.processes import ServerProcess, free_port, server_env

pytestmark = pytest.mark.integration


def drop_our_database_connection() -> None:
    """Kill this thread's database backend from a second connection, as a failover would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    finally:
        other.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_database_drop_mid_request_logs_its_500_without_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    provider = EmailProviderFactory(nickname="Dropped")
    token = provider.callback_token
    drop_our_database_connection()
    try:
        response = Client(raise_request_exception=False).post(
            provider.callback_path, data=b"[]", content_type="application/json"
        )
    finally:
        connection.close()
    assert response.status_code == 500

    assert response.json() == {"status": "error", "message": "Server error", "error_code": 500}
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "Callback endpoint failed"
    assert token not in caplog.text
    assert token not in str(record.request)
    assert token not in record.request.get_full_path()
    # What mail_admins or an error tracker would send, built from the logged record.
    report = ExceptionReporter(record.request, *record.exc_info)
    text, html = report.get_traceback_text(), report.get_traceback_html()
    assert "OperationalError" in text
    assert "/callbacks/[redacted]/" in text
    assert token not in text
    assert token not in html


def test_the_development_server_log_never_shows_a_callback_token(tmp_path):
    token = "9f3c2a71TokenThatMustNotBeLogged"
    port = free_port()
    server = ServerProcess(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        + ["--skip-checks"],
        server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"),
        tmp_path / "runserver.log",
        port,
    )
    try:
        server.wait_until_answering("/login/")
        with pytest.raises(urllib.error.HTTPError):  # 405: the endpoint takes POST
            urllib.request.urlopen(f"{server.url}/callbacks/{token}/")
        output = server.wait_for_output('"GET /callbacks/[redacted]/ HTTP/1.1" 405')
    finally:
        server.stop()
    assert token not in output
