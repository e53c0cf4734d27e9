"""/metrics: off unless a token or an allow-list is set, and then only for those."""

import ipaddress

import pytest
from django.urls import reverse

from tests.config.test_settings import load_settings

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
