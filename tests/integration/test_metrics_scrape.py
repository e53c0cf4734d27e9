"""/metrics scraped over HTTP after real callbacks (applied by a real worker) and real test
emails (through loopback SMTP)."""

import httpx
import pytest
from django.conf import settings
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from providers.models import EmailProvider, TestEmail
from tests.callback_strategies import netcore_events
from tests.factories import EmailProviderFactory
from tests.servers import wait_until_applied, wait_until_finished

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]

TOKEN = "scrape-token-for-tests"


def v2(*items: dict) -> dict:
    success = [item for item in items if item["type"] == "delivered"]
    failed = [item for item in items if item["type"] != "delivered"]
    return {"version": "v2", "events": {"success": success, "failed": failed}}


def scrape(live_server) -> dict[tuple[str, tuple], float]:
    """Every sample of the scrape: {(name, sorted labels): value}."""
    response = httpx.get(
        live_server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def send_test_email(client, provider: EmailProvider, recipient: str) -> TestEmail:
    client.post(reverse("providers:send_test", args=[provider.pk]), {"recipient": recipient})
    return wait_until_finished(TestEmail.objects.filter(provider=provider).latest("pk").pk)


def test_metrics_count_real_callbacks_and_test_emails(
    client_logged_in, live_server, smtp_server, celery_worker, settings
):
    settings.METRICS_TOKEN = TOKEN
    server = smtp_server("smtp", refuse={"nobody@acme.test": "550 5.1.1 No such user"})
    relay = EmailProviderFactory(host=server.host, port=server.port, scheme="smtp", username="")
    netcore = EmailProviderFactory(kind=EmailProvider.Kind.NETCORE, nickname="Netcore")

    assert send_test_email(client_logged_in, relay, "qa@acme.test").status == "sent"
    assert send_test_email(client_logged_in, relay, "ops@acme.test").status == "sent"
    assert send_test_email(client_logged_in, relay, "nobody@acme.test").status == "failed"

    with httpx.Client(timeout=10) as http:
        relay_url = live_server.url + relay.callback_path
        body = v2(
            {"type": "delivered", "email": "ada@example.org", "meta": "ada@example.org|c1|"},
            {"type": "hard_bounce", "email": "bob@example.org", "meta": "bob@example.org|c1|"},
            {"type": "spam", "email": "cy@example.org", "meta": "cy@example.org|c1|"},
        )
        assert http.post(relay_url, json=body).status_code == 200
        wait_until_applied()
        assert http.post(relay_url, json=body).status_code == 200  # the ESP's retry
        wait_until_applied()
        malformed = http.post(
            relay_url, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 400
        assert (
            http.post(live_server.url + netcore.callback_path, json=netcore_events(10)).status_code
            == 200
        )
        wait_until_applied()

    samples = scrape(live_server)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    requests = "postdesk_callback_requests_5m"
    assert value(requests, provider_kind="smtp", format="generic_v2", status="200") == 2
    assert value(requests, provider_kind="smtp", format="unknown", status="400") == 1
    assert value(requests, provider_kind="netcore", format="netcore", status="200") == 1
    accepted = "postdesk_callback_events_accepted_5m"
    assert value(accepted, provider_kind="smtp", format="generic_v2") == 6
    assert value(accepted, provider_kind="netcore", format="netcore") == 10
    applied = "postdesk_events_applied_total"
    assert value(applied, kind="delivered") == 1 + 9
    assert value(applied, kind="hard_bounce") == 1 + 1
    assert value(applied, kind="spam") == 1
    assert value(applied, kind="unsubscribed") == 0
    assert value("postdesk_events_duplicate_total") == 3
    assert value("postdesk_inbox_batches") == 0
    assert value("postdesk_inbox_oldest_batch_age_seconds") == 0
    assert value("postdesk_inbox_lag_seconds") == 0
    assert value("postdesk_inbox_failing_batches") == 0
    assert value("postdesk_inbox_apply_failures") == 0
    assert value("postdesk_test_emails", status="sent", failure_reason="") == 2
    assert value("postdesk_test_emails", status="failed", failure_reason="invalid_recipient") == 1
