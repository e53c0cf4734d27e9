import socket

import pytest

from providers.network import ForbiddenHost, check_host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.5",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
    ],
)
def test_internal_hosts_are_refused_when_the_setting_forbids_them(settings, host):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    with pytest.raises(ForbiddenHost, match="does not allow"):
        check_host(host, 587)


def test_internal_hosts_are_allowed_by_default(settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = True
    assert check_host("127.0.0.1", 587) == ["127.0.0.1"]


def test_a_name_that_resolves_inward_is_refused_after_resolution(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False

    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "smtp.looks-public.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ForbiddenHost, match="10.0.0.7"):
        check_host("smtp.looks-public.example", 587)


def test_public_addresses_pass(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 587))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    assert check_host("smtp.example.com", 587) == ["8.8.8.8"]


def test_an_unresolvable_host_raises_a_lookup_error():
    with pytest.raises(OSError):
        check_host("no-such-host.invalid", 587)
