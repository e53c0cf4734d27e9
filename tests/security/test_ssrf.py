"""SSRF, the adapter side: with PROVIDER_HOSTS_ALLOW_PRIVATE off (production's default), a
provider whose public-looking host name or ESP API base resolves to an internal address is
refused at send time and in "Test connection", after DNS resolution and before any TCP
connection — also when DNS changed after the form accepted the host. The connection then goes
to the address that was checked (no second lookup for DNS rebinding to answer), while TLS
verifies the certificate for the host name. The form side is in
tests/providers/test_provider_forms.py and test_network.py.
"""

import os
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from providers.adapters import OutgoingMessage, adapter_for
from providers.adapters.base import DeliveryError
from providers.connection_check import check_provider_settings
from providers.models import TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from tests.config.test_settings import PRODUCTION_ENV, ROOT, TEST_ONLY_ENV
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER, start_smtp_server

pytestmark = pytest.mark.django_db

HOST = "smtp.relay-looks-public.example"
PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch):
    """Answer getaddrinfo for HOST from `dns.answer`; record every TCP connection attempt."""

    class Dns:
        answer = PUBLIC
        later = ""  # what every lookup after the first answers (DNS rebinding), if set
        lookups: list[str] = []
        connections: list[tuple] = []

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != HOST:
            return real_getaddrinfo(host, port, *args, **kwargs)
        answer = Dns.later if Dns.lookups and Dns.later else Dns.answer
        Dns.lookups.append(host)
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (answer, port))]

    def create_connection(address, *args, **kwargs):
        Dns.connections.append(address)
        raise ConnectionRefusedError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return Dns


def provider(**fields):
    values = {"host": HOST, "port": 587, "scheme": "starttls", "username": "mailer"}
    return EmailProviderFactory(**{**values, **fields})


@pytest.mark.parametrize(
    "inward", ["10.0.0.7", "127.0.0.1", "169.254.169.254", "192.168.1.20", "::1", "fd00::5"]
)
def test_the_adapter_refuses_a_name_that_resolves_inward(settings, dns, inward):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    dns.answer = inward

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider()).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))

    assert caught.value.reason == "connection_error"
    assert inward in caught.value.detail and "does not allow" in caught.value.detail
    assert HOST in dns.lookups  # refused after resolving the name …
    assert dns.connections == []  # … and before connecting to anything


def test_the_adapter_allows_a_public_address(settings, dns):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider()).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))
    assert "does not allow" not in caught.value.detail
    assert dns.connections == [(PUBLIC, 587)]  # it did try, to the address it checked


def test_private_addresses_are_allowed_by_default(settings, dns):
    assert settings.PROVIDER_HOSTS_ALLOW_PRIVATE is True  # self-hosted relays live inside
    dns.answer = "10.0.0.7"
    with pytest.raises(DeliveryError):
        adapter_for(provider()).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))
    assert dns.connections == [("10.0.0.7", 587)]


def test_dns_that_turns_inward_after_saving_fails_the_test_email(settings, dns, client_logged_in):
    """The form checked a public address; by send time the name points inside."""
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    saved = provider()
    dns.answer = "10.1.2.3"
    test_email = TestEmail.objects.create(provider=saved, recipient="qa@acme.test")

    assert deliver_test_email(test_email, may_retry=True) is DeliveryOutcome.FAILED  # not retried

    test_email.refresh_from_db()
    assert test_email.failure_reason == TestEmail.FailureReason.CONNECTION_ERROR
    assert "10.1.2.3" in test_email.failure_detail
    assert dns.connections == []


def test_test_connection_refuses_a_name_that_resolves_inward(settings, dns, client_logged_in):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    dns.answer = "169.254.169.254"  # the cloud metadata service
    response = client_logged_in.post(
        reverse("providers:test_connection"),
        {
            "_kind": "smtp",
            "nickname": "Metadata",
            "host": HOST,
            "port": 80,
            "scheme": "smtp",
            "from_address": "news@acme.test",
            "preference_center": "none",
        },
    )
    report = response.json()
    assert report["ok"] is False
    assert "169.254.169.254" in str(report)
    assert dns.connections == []


def send_once(saved) -> None:
    with pytest.raises(DeliveryError):
        adapter_for(saved).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))


@pytest.mark.parametrize("run", [send_once, check_provider_settings], ids=["send", "check"])
def test_the_connection_goes_to_the_address_that_was_checked(settings, dns, run):
    """A rebinding resolver answers a public address first and loopback afterwards."""
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    dns.later = "127.0.0.1"

    run(provider())

    assert dns.lookups == [HOST]  # no second lookup for the rebinding answer
    assert dns.connections == [(PUBLIC, 587)]


# --- real servers behind a stub resolver ----------------------------------------------------
NAME = "relay.rebinding.example"


@pytest.fixture
def rebinding_dns(monkeypatch):
    """NAME resolves to 127.0.0.1 the first time and to 10.66.0.1 ever after."""
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = "10.66.0.1" if lookups else "127.0.0.1"
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def smtps_server_with_certificate_for(tls_ca, name: str):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(name).configure_cert(context)
    return start_smtp_server("smtps", auth=True, server_context=context)


def smtps_provider(server):
    return EmailProviderFactory(
        host=NAME, port=server.port, scheme="smtps", username=SMTP_USER, secret=SMTP_PASSWORD
    )


def test_smtp_connects_to_the_checked_address_and_verifies_the_host_name(tls_ca, rebinding_dns):
    server = smtps_server_with_certificate_for(tls_ca, NAME)  # not valid for 127.0.0.1
    try:
        adapter_for(smtps_provider(server)).send(
            OutgoingMessage(to="qa@acme.test", subject="s", text="t")
        )
    finally:
        server.controller.stop()

    [mail] = server.messages
    assert mail.tls_version and mail.auth_login == SMTP_USER
    assert rebinding_dns == [NAME]


def test_smtp_refuses_a_certificate_for_another_name_on_the_checked_address(tls_ca, rebinding_dns):
    server = smtps_server_with_certificate_for(tls_ca, "another.example")
    try:
        with pytest.raises(DeliveryError) as caught:
            adapter_for(smtps_provider(server)).send(
                OutgoingMessage(to="qa@acme.test", subject="s", text="t")
            )
    finally:
        server.controller.stop()

    assert "certificate" in caught.value.detail
    assert server.messages == []


def test_the_api_connects_to_the_checked_address_with_the_host_name(
    esp_api, settings, rebinding_dns
):
    api = esp_api()
    settings.SENDGRID_API_URL = f"http://{NAME}:{api.url.rsplit(':', 1)[1]}"
    api.reply(202, headers={"X-Message-Id": "sg-1"})

    result = adapter_for(EmailProviderFactory(sendgrid=True, secret="SG.key")).send(
        OutgoingMessage(to="qa@acme.test", subject="s", text="t")
    )

    assert result.message_id == "sg-1"
    [request] = api.requests
    assert request.headers["host"] == settings.SENDGRID_API_URL.removeprefix("http://")
    assert rebinding_dns == [NAME]


@pytest.fixture
def https_api(tls_ca, settings, monkeypatch):
    """Factory: an HTTPS stand-in for SendGrid on 127.0.0.1 with a certificate for one name."""
    monkeypatch.setenv("SSL_CERT_FILE", settings.SMTP_CA_FILE)  # httpx trusts the test CA
    servers = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.server.hosts.append(self.headers["Host"])
            self.send_response(202)
            self.send_header("X-Message-Id", "tls-1")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    def start(certificate_name: str) -> ThreadingHTTPServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ca.issue_cert(certificate_name).configure_cert(context)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.hosts = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("certificate_name", [NAME, "another.example"])
def test_the_api_verifies_the_certificate_for_the_host_name(
    https_api, settings, rebinding_dns, certificate_name
):
    server = https_api(certificate_name)
    settings.SENDGRID_API_URL = f"https://{NAME}:{server.server_address[1]}"
    adapter = adapter_for(EmailProviderFactory(sendgrid=True, secret="SG.key"))
    message = OutgoingMessage(to="qa@acme.test", subject="s", text="t")

    if certificate_name == NAME:
        assert adapter.send(message).message_id == "tls-1"
        assert server.hosts == [f"{NAME}:{server.server_address[1]}"]
    else:
        with pytest.raises(DeliveryError) as caught:
            adapter.send(message)
        assert "certificate" in caught.value.detail
        assert server.hosts == []
    assert rebinding_dns == [NAME]


@pytest.mark.parametrize("inward", ["127.0.0.1", "100.100.100.200", "::ffff:169.254.169.254"])
def test_an_api_base_that_resolves_inward_is_refused(esp_api, settings, monkeypatch, inward):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    api = esp_api()  # listens on 127.0.0.1: reached only if the refusal failed
    port = int(api.url.rsplit(":", 1)[1])
    settings.SENDGRID_API_URL = f"http://{NAME}:{port}"
    family = socket.AF_INET6 if ":" in inward else socket.AF_INET
    answer = [(family, socket.SOCK_STREAM, 6, "", (inward, port))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)
    provider = EmailProviderFactory(sendgrid=True, secret="SG.key")

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(OutgoingMessage(to="qa@acme.test", subject="s", text="t"))
    report = check_provider_settings(provider)

    assert caught.value.reason == "api_connection_error"
    assert "does not allow" in caught.value.detail
    assert not report.ok and "does not allow" in report.steps[0].detail
    assert api.requests == []


# --- the default of each settings module ----------------------------------------------------
def allow_private_under(module: str, env: dict[str, str]) -> str:
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.PROVIDER_HOSTS_ALLOW_PRIVATE)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION_ENV, *TEST_ONLY_ENV}}
    clean.pop("PROVIDER_HOSTS_ALLOW_PRIVATE", None)
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_forbids_internal_provider_hosts_by_default():
    assert allow_private_under("config.settings.production", PRODUCTION_ENV) == "False"


def test_production_can_allow_them_explicitly():
    env = {**PRODUCTION_ENV, "PROVIDER_HOSTS_ALLOW_PRIVATE": "true"}
    assert allow_private_under("config.settings.production", env) == "True"


def test_the_embedded_default_allows_them_for_the_local_sink():
    assert allow_private_under("config.settings.local", {}) == "True"
