"""SSRF, the adapter side: with PROVIDER_HOSTS_ALLOW_PRIVATE off, a provider whose public-looking
host name resolves to an internal address is refused at send time and in "Test connection",
after DNS resolution and before any TCP connection — also when DNS changed after the form
accepted the host. The form side is in tests/providers/test_provider_forms.py and
test_network.py.
"""

import socket

import pytest
from django.urls import reverse

from providers.adapters import OutgoingMessage, adapter_for
from providers.adapters.base import DeliveryError
from providers.models import TestEmail
from providers.sending import Outcome, deliver_test_email
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

HOST = "smtp.relay-looks-public.example"
PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch):
    """Answer getaddrinfo for HOST from `dns.answer`; record every TCP connection attempt."""

    class Dns:
        answer = PUBLIC
        lookups: list[str] = []
        connections: list[tuple] = []

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != HOST:
            return real_getaddrinfo(host, port, *args, **kwargs)
        Dns.lookups.append(host)
        family = socket.AF_INET6 if ":" in Dns.answer else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (Dns.answer, port))]

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

    assert deliver_test_email(test_email, may_retry=True) is Outcome.FAILED  # not retried

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
