from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import DailyStat
from tests.servers import celery_worker, smtp_server, tls_ca  # noqa: F401  (fixtures)


@pytest.fixture
def add_stats():
    """add_stats(provider, days_ago=0, delivered=…, hard_bounce=…): one DailyStat row."""

    def add(provider, days_ago: int = 0, **counters) -> DailyStat:
        day = timezone.localdate() - timedelta(days=days_ago)
        return DailyStat.objects.create(provider=provider, date=day, **counters)

    return add


class QuietLogger:
    """dnslib's server logs every packet to stdout; the tests need none of it."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@pytest.fixture
def dns_zone(settings):
    """dns_zone(text): serve these zone records from a DNS server on loopback.

    The checks' resolver (settings.DNS_RESOLVER) points at it; nothing reaches the machine's
    own resolver. A name the zone lacks answers NXDOMAIN.
    """
    from dnslib.server import DNSServer
    from dnslib.zoneresolver import ZoneResolver

    servers = []

    def serve(zone: str) -> None:
        records = "\n".join(line.strip() for line in zone.splitlines())  # no indented lines
        server = DNSServer(ZoneResolver(records), address="127.0.0.1", port=0, logger=QuietLogger())
        server.start_thread()
        servers.append(server)
        settings.DNS_RESOLVER = f"127.0.0.1:{server.server.server_address[1]}"

    yield serve
    for server in servers:
        server.stop()
