"""Where a provider may point: the SSRF guard for provider hosts.

Self-hosted relays often live on private networks, so private addresses are allowed by
default; with PROVIDER_HOSTS_ALLOW_PRIVATE off, a host is refused when any address it
resolves to is loopback, link-local, private, multicast, reserved or unspecified. The check
runs after DNS resolution, so a public-looking name that resolves inward is refused too.
"""

import ipaddress
import socket

from django.conf import settings


class ForbiddenHost(Exception):
    """The host resolves to an address providers may not use."""


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve(host: str, port: int | None = None) -> list[str]:
    """The addresses `host` resolves to; raises OSError (socket.gaierror) when it does not."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def check_host(host: str, port: int | None = None) -> list[str]:
    """Resolve `host` and refuse it when the policy forbids any of its addresses."""
    addresses = resolve(host, port)
    if not settings.PROVIDER_HOSTS_ALLOW_PRIVATE:
        internal = [address for address in addresses if _is_internal(address)]
        if internal:
            raise ForbiddenHost(
                f"{host} resolves to {', '.join(internal)}, a loopback, link-local or "
                "private address, which this installation does not allow for providers."
            )
    return addresses
