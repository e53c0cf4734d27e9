"""Where a provider may point: the SSRF guard for SMTP hosts and ESP API bases.

With PROVIDER_HOSTS_ALLOW_PRIVATE off (the production default) a host is refused when any
address it resolves to is not globally routable (`ipaddress`'s ``is_global``): loopback,
private, link-local, shared address space (100.64.0.0/10, where some clouds keep their
metadata service), multicast, reserved — also when such an address hides inside an IPv6 one
(IPv4-mapped, 6to4, Teredo, NAT64). The embedded default allows them, for the local SMTP sink
and for self-hosted relays.

The check runs after DNS resolution, and `connect` then opens the connection to an address
that was checked, never to the name again: a second lookup could answer differently (DNS
rebinding). TLS still verifies the certificate for the host name; callers pass it as
``server_hostname``.
"""

import ipaddress
import socket

import httpcore
import httpx
from django.conf import settings

from providers.adapters.base import CheckStep

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class ForbiddenHost(Exception):
    """The host resolves to an address providers may not use."""


class HostRefused(Exception):
    """The host does not resolve, or the policy forbids it; the message says which."""


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo server and client, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in NAT64_PREFIX:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in found if address is not None]


def is_internal(address: str) -> bool:
    """True when `address`, or an address wrapped inside it, is not globally routable."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(
        not candidate.is_global or candidate.is_multicast or candidate.is_reserved
        for candidate in (ip, *_embedded_ipv4(ip))
    )


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8 and ::1, also written as an IPv4-mapped IPv6 address."""
    if not address:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_loopback or any(inner.is_loopback for inner in _embedded_ipv4(ip))


def resolve(host: str, port: int | None = None) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order; OSError when it does not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def check_host(host: str, port: int | None = None) -> list[str]:
    """Resolve `host` once and refuse it when the policy forbids any of its addresses.

    Returns the checked addresses: connect to these, not to `host`.
    """
    addresses = resolve(host, port)
    if not settings.PROVIDER_HOSTS_ALLOW_PRIVATE:
        internal = [address for address in addresses if is_internal(address)]
        if internal:
            raise ForbiddenHost(
                f"{host} resolves to {', '.join(internal)}, a loopback, private, link-local "
                "or otherwise internal address, which this installation does not allow for "
                "providers."
            )
    return addresses


def checked_addresses(host: str, port: int | None = None) -> list[str]:
    """`check_host`, with one readable HostRefused for a forbidden and an unknown host."""
    try:
        return check_host(host, port)
    except ForbiddenHost as exc:
        raise HostRefused(str(exc)) from exc
    except (socket.gaierror, UnicodeError) as exc:
        raise HostRefused(f"{host} does not resolve ({exc}).") from exc


def dns_lookup_step(host: str, port: int) -> tuple[list[str], CheckStep]:
    """The "DNS lookup" step of a connection check, and the checked addresses (none on failure)."""
    try:
        addresses = checked_addresses(host, port)
    except HostRefused as exc:
        return [], CheckStep("DNS lookup", False, str(exc))
    return addresses, CheckStep("DNS lookup", True, f"{host} resolves to {', '.join(addresses)}.")


def connect(
    addresses: list[str],
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """A TCP connection to the first of the checked `addresses` that answers."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error or OSError(f"No address to connect to on port {port}.")


class CheckedNetworkBackend(httpcore.SyncBackend):
    """httpcore's backend, connecting only to addresses `check_host` allowed.

    httpcore still sends the URL's host name as TLS SNI (and verifies the certificate for
    it) and in the Host header; only the TCP connection goes to the checked address.
    """

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = check_host(host, port)
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address to connect to.")


class CheckedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections go through `CheckedNetworkBackend`."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=CheckedNetworkBackend()
        )
