"""Amazon SES in a browser: add the provider, test the connection against a loopback stand-in,
send the sample callback, then SNS posts a signed bounce and the profile turns Inactive."""

import json

import httpx
from django.urls import reverse
from playwright.sync_api import expect

from callbacks import inbox
from profiles.models import Profile
from providers.models import EmailProvider
from tests.aws import sns  # noqa: F401  (fixture)
from tests.factories import ProfileFactory
from tests.servers import StubApi

ACCOUNT = {
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
    "SendingEnabled": True,
    "ProductionAccessEnabled": True,
    "EnforcementStatus": "HEALTHY",
}


def test_add_ses_test_connection_sample_and_a_signed_bounce(
    signed_in_page,
    live_server,
    settings,
    sns,  # noqa: F811
    screenshot,
):
    settings.SITE_URL = live_server.url
    api = StubApi()  # moto's server has no GetAccount; this stand-in answers it
    settings.SES_ENDPOINT_URL = api.url
    api.reply(200, ACCOUNT)
    ProfileFactory(email="jane@example.com")
    page = signed_in_page
    try:
        page.goto(live_server.url + reverse("providers:create", args=["ses"]))
        expect(page.get_by_role("heading", name="New Amazon SES provider")).to_be_visible()
        page.get_by_label("Nickname").fill("Acme SES")
        page.get_by_label("Region").fill("eu-west-1")
        page.get_by_label("Access key ID").fill("AKIAIOSFODNN7EXAMPLE")
        page.get_by_label("Secret access key").fill("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        page.get_by_label("From Address").fill("news@acme.example")
        page.get_by_role("button", name="Test connection").click()
        steps = page.locator("[data-test-connection-steps]")
        expect(steps).to_contain_text("Access keys accepted")
        expect(steps).to_contain_text("Out of the sandbox")
        screenshot(page, "ses-test-connection")
        [request] = api.requests
        assert (request.method, request.path) == ("GET", "/v2/email/account")
        assert "/eu-west-1/ses/aws4_request" in request.headers["authorization"]

        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Configuration sets")).to_be_visible()
        provider = EmailProvider.objects.get(nickname="Acme SES")
        assert provider.kind == EmailProvider.Kind.SES

        page.get_by_role("button", name="Send a sample callback").click()
        expect(page.locator("table").get_by_text("sample", exact=True)).to_be_visible()

        envelope = sns.envelope(
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "NoEmail",
                    "bouncedRecipients": [{"emailAddress": "jane@example.com"}],
                },
                "mail": {"messageId": "m-1", "destination": ["jane@example.com"]},
            }
        )
        response = httpx.post(
            provider.callback_url, content=json.dumps(envelope).encode(), timeout=10
        )
        assert response.status_code == 200
        inbox.apply_pending()  # the worker's part
        profile = Profile.objects.get(email="jane@example.com")
        page.goto(live_server.url + reverse("profiles:detail", args=[profile.pk]))
        expect(page.get_by_text("Inactive").first).to_be_visible()
        screenshot(page, "ses-profile-inactive")
        assert profile.status == Profile.Status.INACTIVE
    finally:
        api.stop()
