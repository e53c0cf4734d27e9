"""MailgunAdapter against loopback HTTP servers standing in for Mailgun's US and EU APIs."""

import base64
from urllib.parse import parse_qs

import pytest

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

API_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
BASIC = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()


@pytest.fixture
def mailgun_api(esp_api, settings):
    api = esp_api()
    settings.MAILGUN_API_URL = api.url
    return api


@pytest.fixture
def mailgun_eu_api(esp_api, settings):
    api = esp_api()
    settings.MAILGUN_EU_API_URL = api.url
    return api


def mailgun_provider(region="us"):
    return EmailProviderFactory(
        kind=EmailProvider.Kind.MAILGUN,
        host="",
        port=None,
        scheme="",
        username="",
        sending_domain="mg.acme.test",
        region=region,
        secret=API_KEY,
        from_name="Acme News",
        from_address="news@acme.test",
        reply_to_address="help@acme.test",
    )


@pytest.fixture
def provider(mailgun_api, mailgun_eu_api):
    # Saved after the stand-ins are up: the key is bound to the API base it was saved for.
    return mailgun_provider()


def message():
    return OutgoingMessage(
        to="ada@example.org", subject="Test", text="Hello", html="<p>Hello</p>", meta="m|1|2"
    )


def form_of(request) -> dict[str, list[str]]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.body.decode(), keep_blank_values=True)


def test_send_posts_a_form_with_basic_auth_and_the_meta_as_a_v_variable(provider, mailgun_api):
    mailgun_api.reply(200, {"id": "<20111114174239.25659.5817@mg.acme.test>", "message": "Queued"})

    result = adapter_for(provider).send(message())

    assert (result.message_id, result.code) == ("20111114174239.25659.5817@mg.acme.test", 200)
    [request] = mailgun_api.requests
    assert (request.method, request.path) == ("POST", "/v3/mg.acme.test/messages")
    assert request.headers["authorization"] == BASIC
    form = form_of(request)
    assert form["from"] == ["Acme News <news@acme.test>"]
    assert form["to"] == ["ada@example.org"]
    assert form["subject"] == ["Test"]
    assert (form["text"], form["html"]) == (["Hello"], ["<p>Hello</p>"])
    assert form["h:Reply-To"] == ["help@acme.test"]
    assert form["h:X-Postdesk-Meta"] == ["m|1|2"]
    assert form["v:postdesk_meta"] == ["m|1|2"]


def test_eu_region_sends_to_the_eu_api(mailgun_api, mailgun_eu_api):
    provider = mailgun_provider(region="eu")
    mailgun_eu_api.reply(200, {"id": "<x@mg.acme.test>"})

    adapter_for(provider).send(message())

    assert mailgun_api.requests == []
    [request] = mailgun_eu_api.requests
    assert request.path == "/v3/mg.acme.test/messages"


def test_changing_the_region_keeps_the_stored_key_from_the_other_region(provider):
    provider.region = "eu"

    assert not provider.secret_fits()


@pytest.mark.parametrize(
    ("status", "body", "reason", "transient", "text"),
    [
        (401, b"Forbidden", "api_key_refused", False, "HTTP 401: Forbidden"),
        (
            400,
            {"message": "to parameter is not a valid address. please check documentation"},
            "invalid_recipient",
            False,
            "HTTP 400: to parameter is not a valid address. please check documentation",
        ),
        (
            400,
            {
                "message": "Domain mg.acme.test is not allowed to send: Sandbox subdomains are "
                "for test purposes only."
            },
            "unverified_sender",
            False,
            "HTTP 400: Domain mg.acme.test is not allowed to send: Sandbox subdomains are for "
            "test purposes only.",
        ),
        (
            404,
            {"message": "Domain not found: mg.acme.test"},
            "unverified_sender",
            False,
            "HTTP 404: Domain not found: mg.acme.test",
        ),
        (
            429,
            {"message": "Domain mg.acme.test is not allowed to send: request limit exceeded"},
            "rate_limited",
            True,
            "HTTP 429: Domain mg.acme.test is not allowed to send: request limit exceeded",
        ),
        (502, b"bad gateway", "esp_rejected", True, "HTTP 502: bad gateway"),
    ],
)
def test_failures_are_classified(provider, mailgun_api, status, body, reason, transient, text):
    mailgun_api.reply(status, body)

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.code) == (reason, status)
    assert caught.value.transient is transient
    assert caught.value.detail == text


def test_the_key_is_scrubbed_from_an_echoed_error(provider, mailgun_api):
    mailgun_api.reply(400, {"message": f"bad key {API_KEY}"})

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert API_KEY not in caught.value.detail


def test_unreachable_api_is_a_transient_api_connection_error(provider, settings, closed_port):
    settings.MAILGUN_API_URL = f"http://127.0.0.1:{closed_port}"
    provider.set_secret(API_KEY)  # saved again for this API base

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_connection_error", True)


def test_silent_api_is_an_api_timeout(provider, settings, silent_server):
    settings.MAILGUN_API_URL = f"http://127.0.0.1:{silent_server.port}"
    provider.set_secret(API_KEY)
    settings.ESP_HTTP_TIMEOUT_SECONDS = 0.5

    with pytest.raises(DeliveryError) as caught:
        adapter_for(provider).send(message())

    assert (caught.value.reason, caught.value.transient) == ("api_timeout", True)


def test_check_connection_looks_the_domain_up_without_sending(provider, mailgun_api):
    mailgun_api.reply(200, {"domain": {"name": "mg.acme.test", "state": "active"}})

    steps = adapter_for(provider).check_connection()

    assert [(s.name, s.ok) for s in steps] == [
        ("Reach the API", True),
        ("API key accepted", True),
        ("Sending domain found", True),
        ("Domain verified", True),
    ]
    [request] = mailgun_api.requests
    assert (request.method, request.path) == ("GET", "/v3/domains/mg.acme.test")
    assert request.headers["authorization"] == BASIC


def test_check_connection_reports_a_refused_key(provider, mailgun_api):
    mailgun_api.reply(401, b"Forbidden")

    steps = adapter_for(provider).check_connection()

    assert (steps[-1].name, steps[-1].ok, steps[-1].detail) == (
        "API key accepted",
        False,
        "HTTP 401: Forbidden",
    )


def test_check_connection_names_a_domain_of_the_other_region(provider, mailgun_api):
    mailgun_api.reply(404, {"message": "Domain not found: mg.acme.test"})

    steps = adapter_for(provider).check_connection()

    assert (steps[-1].name, steps[-1].ok) == ("Sending domain found", False)
    assert "US region" in steps[-1].detail


def test_check_connection_reports_an_unverified_domain(provider, mailgun_api):
    mailgun_api.reply(200, {"domain": {"name": "mg.acme.test", "state": "unverified"}})

    steps = adapter_for(provider).check_connection()

    assert (steps[-1].name, steps[-1].ok) == ("Domain verified", False)
    assert "unverified" in steps[-1].detail
