"""The provider forms' field validators."""

import socket

import pytest
from django.core.exceptions import ValidationError

from providers.forms.validators import validate_hostname


@pytest.mark.parametrize(
    "host",
    [
        "smtp.example.com",
        "SMTP.Example.COM",
        "localhost",
        "mail-1.eu-west.example.net",
        "smtp.example.com.",
        "192.0.2.10",
        "2001:db8::25",
        "[2001:db8::25]",
        "x" * 63 + ".example",
    ],
)
def test_valid_host_names(host, settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = True
    validate_hostname(host)


@pytest.mark.parametrize(
    "host",
    [
        "smtp://smtp.example.com",
        "smtps://smtp.example.com:465",
        "smtp.example.com/relay",
        "smtp example.com",
        " smtp.example.com",
        "smtp.example.com\t",
        "-smtp.example.com",
        "smtp-.example.com",
        "smtp..example.com",
        "smtp_relay.example.com",
        "smtp.example.com:587",
        "x" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "com",
        "300.1.1.1",
        "exämple.com",
        "*.example.com",
    ],
)
def test_invalid_host_names(host):
    with pytest.raises(ValidationError):
        validate_hostname(host)


def test_internal_hosts_are_refused_when_private_hosts_are_not_allowed(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "localhost", "[::1]"):
        with pytest.raises(ValidationError):
            validate_hostname(host)
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    validate_hostname("smtp.example.com")
    validate_hostname("8.8.8.8")


def test_a_host_name_resolving_to_a_private_address_is_refused(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    inward = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: inward)
    with pytest.raises(ValidationError, match="10.9.8.7"):
        validate_hostname("relay.looks-public.example")


def test_an_unresolvable_host_is_refused_when_private_hosts_are_not_allowed(settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError, match="could not look up"):
        validate_hostname("no-such-host.invalid")
