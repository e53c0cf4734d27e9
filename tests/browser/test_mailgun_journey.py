"""The Mailgun journey: add the provider, test the connection against a local stand-in for
Mailgun's API, send the sample callback, and see a signed bounce make the profile Inactive."""

import base64

import httpx
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from callbacks import inbox
from profiles.models import Profile
from providers.models import EmailProvider
from tests.callbacks.conftest import payload_json
from tests.callbacks.test_mailgun_format import signed
from tests.servers import StubApi

API_KEY = "key-journey-0123456789abcdef"
SIGNING_KEY = "signing-journey-0123456789"


@pytest.fixture
def mailgun_eu_api(settings):
    api = StubApi()
    settings.MAILGUN_EU_API_URL = api.url
    yield api
    api.stop()


def test_add_mailgun_test_connection_sample_and_a_signed_bounce(
    signed_in_page, live_server, settings, screenshot, mailgun_eu_api
):
    settings.SITE_URL = live_server.url
    mailgun_eu_api.reply(200, {"domain": {"name": "mg.acme.example", "state": "active"}})
    page = signed_in_page
    page.goto(live_server.url + reverse("providers:add"))
    page.get_by_label("Provider").select_option(label="Mailgun")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="New Mailgun provider")).to_be_visible()
    page.get_by_label("Nickname").fill("Mailgun EU")
    page.get_by_label("Sending domain").fill("mg.acme.example")
    page.get_by_label("Region").select_option("eu")
    page.get_by_label("API Key").fill(API_KEY)
    page.get_by_label("HTTP webhook signing key").fill(SIGNING_KEY)
    page.get_by_label("From Address").fill("news@acme.example")

    page.get_by_role("button", name="Test connection").click()
    steps = page.locator("[data-test-connection-steps]")
    expect(steps).to_contain_text("Domain verified")
    screenshot(page, "mailgun-test-connection")
    [lookup] = mailgun_eu_api.requests
    assert (lookup.method, lookup.path) == ("GET", "/v3/domains/mg.acme.example")
    basic = base64.b64encode(f"api:{API_KEY}".encode()).decode()
    assert lookup.headers["authorization"] == f"Basic {basic}"

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Permanent Failure")).to_be_visible()
    provider = EmailProvider.objects.get(nickname="Mailgun EU")
    assert (provider.region, provider.webhook_secret) == ("eu", SIGNING_KEY)
    assert SIGNING_KEY not in page.content() and API_KEY not in page.content()

    page.get_by_role("button", name="Send a sample callback").click()
    expect(page.get_by_text("Sample callback accepted (200)")).to_be_visible()

    # Mailgun posts a signed permanent bounce to the callback URL.
    body = signed(payload_json("mailgun_failed_bounce.json"), SIGNING_KEY)
    response = httpx.post(provider.callback_url, content=body, timeout=10)
    assert response.status_code == 200
    inbox.apply_pending()
    profile = Profile.objects.get(email="invalid@example.com")
    page.goto(live_server.url + reverse("profiles:detail", args=[profile.pk]))
    expect(page.get_by_text("Inactive", exact=True)).to_be_visible()
    screenshot(page, "mailgun-profile-inactive")
