"""/metrics: off unless a token or an allow-list is set, and then only for those."""

import ipaddress

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from callbacks.mailbox import poller
from callbacks.mailbox.models import BounceMailbox
from tests.config.test_settings import load_settings
from tests.factories import EmailProviderFactory
from tests.servers import closed_port  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def allow(settings, *networks: str) -> None:
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network(network) for network in networks]


def test_metrics_are_off_when_neither_token_nor_allow_list_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert client.get(reverse("metrics")).status_code == 404
    headers = {"Authorization": "Bearer "}
    assert client.get(reverse("metrics"), headers=headers).status_code == 404


def test_the_bearer_token_opens_the_metrics(client, token):
    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "postdesk_inbox_batches 0.0" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    openmetrics = client.get(
        reverse("metrics"),
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/openmetrics-text"},
    )
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")


@pytest.mark.parametrize(
    "authorization", [None, f"Basic {TOKEN}", "Bearer wrong", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_missing_or_wrong_token_is_refused(client, token, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(reverse("metrics"), headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"postdesk_" not in response.content
    assert TOKEN.encode() not in response.content


def test_an_allowed_address_needs_no_token(client, settings):
    settings.METRICS_TOKEN = ""
    allow(settings, "10.0.0.0/8", "127.0.0.1/32")
    assert client.get(reverse("metrics")).status_code == 200
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3").status_code == 200


def test_an_address_outside_the_allow_list_is_forbidden(client, settings):
    settings.METRICS_TOKEN = ""
    allow(settings, "10.0.0.0/8")
    response = client.get(reverse("metrics"), REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 403
    assert b"postdesk_" not in response.content


def test_either_the_token_or_the_address_will_do(client, token, settings):
    allow(settings, "10.0.0.0/8")
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.0.0.9").status_code == 200
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (
        client.get(reverse("metrics"), REMOTE_ADDR="192.0.2.7", headers=headers).status_code == 200
    )
    assert client.get(reverse("metrics"), REMOTE_ADDR="192.0.2.7").status_code == 401


def test_metrics_answer_only_get(client, token):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(reverse("metrics"), headers=headers).status_code == 405


def test_a_malformed_allow_list_stops_the_settings_from_loading():
    result = load_settings("config.settings.local", {"METRICS_ALLOWED_IPS": "10.0.0.0/8,nope"})
    assert result.returncode != 0
    assert "'nope' does not appear to be an IPv4 or IPv6 network" in result.stderr


def test_each_bounce_mailbox_has_its_poll_counters_and_gauges(
    client,
    token,
    closed_port,  # noqa: F811
):
    healthy = BounceMailbox.objects.create(
        provider=EmailProviderFactory(kind="gmail"),
        host="imap.gmail.com",
        username="me@gmail.com",
        polls=4,
        messages_read=9,
        bounces_found=5,
        complaints_found=2,
        unreadable_messages=1,
        last_poll_at=timezone.now(),
    )
    failing = BounceMailbox.objects.create(
        provider=EmailProviderFactory(kind="smtp"),
        host="127.0.0.1",
        port=closed_port,
        username="bounces",
    )
    poller.poll_mailbox(failing.pk)  # cannot connect: a poll that failed

    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
    samples = {
        (sample.name, sample.labels["provider_kind"], sample.labels["provider_id"]): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        if family.name.startswith("postdesk_bounce_mailbox")
        for sample in family.samples
    }
    gmail = ("gmail", str(healthy.provider_id))
    smtp = ("smtp", str(failing.provider_id))
    assert samples[("postdesk_bounce_mailbox_polls_total", *gmail)] == 4
    assert samples[("postdesk_bounce_mailbox_messages_read_total", *gmail)] == 9
    assert samples[("postdesk_bounce_mailbox_bounces_total", *gmail)] == 5
    assert samples[("postdesk_bounce_mailbox_complaints_total", *gmail)] == 2
    assert samples[("postdesk_bounce_mailbox_unreadable_messages_total", *gmail)] == 1
    assert samples[("postdesk_bounce_mailbox_failing", *gmail)] == 0
    assert samples[
        ("postdesk_bounce_mailbox_last_poll_timestamp_seconds", *gmail)
    ] == pytest.approx(healthy.last_poll_at.timestamp())
    assert samples[("postdesk_bounce_mailbox_polls_total", *smtp)] == 1
    assert samples[("postdesk_bounce_mailbox_messages_read_total", *smtp)] == 0
    assert samples[("postdesk_bounce_mailbox_failing", *smtp)] == 1
