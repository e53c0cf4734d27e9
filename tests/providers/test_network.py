import socket

import pytest

from providers.network import ForbiddenHost, check_host, is_internal


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


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "100.100.100.200",  # a cloud metadata service in the shared space
        "169.254.169.254",
        "192.0.0.1",  # IETF protocol assignments
        "198.18.0.1",  # benchmarking
        "240.0.0.1",  # reserved
        "224.0.0.251",  # multicast
        "255.255.255.255",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:100.100.100.200",
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "::a00:1",  # IPv4-compatible 10.0.0.1
        "fc00::1",
        "ff02::1",
    ],
)
def test_addresses_that_are_not_globally_routable_are_internal(address):
    assert is_internal(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"])
def test_globally_routable_addresses_are_not_internal(address):
    assert not is_internal(address)


def test_the_resolvers_order_is_kept_for_connecting(settings, monkeypatch):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    answer = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 587)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 587)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 587)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)
    assert check_host("smtp.example.com", 587) == ["93.184.216.34", "8.8.8.8"]
