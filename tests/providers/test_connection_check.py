"""check_provider_settings: each SMTP step reported in order, stopping at the first failure."""

import pytest

from providers.connection_check import check_provider_settings
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def steps_of(report):
    return [(step.name, step.ok) for step in report.steps]


def test_smtps_check_reports_tls_and_never_sends(smtp_server):
    server = smtp_server("smtps", auth=True)
    provider = EmailProviderFactory(
        host=server.host, port=server.port, scheme="smtps", username=SMTP_USER
    )

    report = check_provider_settings(provider, secret=SMTP_PASSWORD)

    assert report.ok
    assert steps_of(report) == [
        ("DNS lookup", True),
        ("TCP connection", True),
        ("TLS (SMTPS)", True),
        ("Server greeting", True),
        ("AUTH", True),
        ("MAIL FROM", True),
    ]
    assert report.steps[2].detail.startswith("TLSv1.")
    assert "C: rset" in report.transcript and "C: quit" in report.transcript
    assert "C: data" not in report.transcript
    assert server.messages == []


def test_plain_smtp_without_login_skips_tls_and_auth(smtp_server):
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")

    report = check_provider_settings(provider)

    assert report.ok
    assert ("TLS", None) in steps_of(report) and ("AUTH", None) in steps_of(report)


def test_untrusted_certificate_fails_at_the_tls_step(smtp_server, settings):
    server = smtp_server("smtps")
    settings.SMTP_CA_FILE = None
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="smtps")

    report = check_provider_settings(provider)

    assert not report.ok
    assert steps_of(report)[-1] == ("TLS (SMTPS)", False)
    assert "certificate" in report.steps[-1].detail


def test_silent_server_fails_at_the_greeting(silent_server, settings):
    settings.SMTP_TIMEOUT_SECONDS = 0.5
    provider = EmailProviderFactory(host="127.0.0.1", port=silent_server.port, scheme="smtp")

    report = check_provider_settings(provider)

    assert steps_of(report)[-2:] == [("TCP connection", True), ("Server greeting", False)]
    assert "did not answer in time" in report.steps[-1].detail


def test_starttls_not_offered_fails_at_starttls(smtp_server):
    server = smtp_server("smtp")
    provider = EmailProviderFactory(host=server.host, port=server.port, scheme="starttls")

    report = check_provider_settings(provider)

    assert steps_of(report)[-1] == ("STARTTLS", False)
    assert "STARTTLS" in report.steps[-1].detail
