"""Postmark end to end in a browser: add, test the connection, sample, a real webhook."""

import httpx
import pytest
from playwright.sync_api import expect

from profiles.models import Profile
from providers.models import EmailProvider
from tests.postmark_api import SERVER_TOKEN, postmark_api  # noqa: F401  (fixture)
from tests.servers import wait_until_applied

from ..callbacks.conftest import payload


@pytest.mark.django_db(transaction=True)
def test_add_postmark_test_connection_sample_and_see_the_profile_change(
    signed_in_page,
    live_server,
    settings,
    screenshot,
    postmark_api,  # noqa: F811
    celery_worker,
):
    settings.SITE_URL = live_server.url
    page = signed_in_page
    page.get_by_role("link", name="+ Provider").first.click()
    page.get_by_label("Provider").select_option(label="Postmark")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="New Postmark provider")).to_be_visible()
    expect(page.get_by_text("Save this provider first")).to_be_visible()
    page.get_by_label("Nickname").fill("Postmark transactional")
    page.get_by_label("Server API token").fill(SERVER_TOKEN)
    page.get_by_label("Message stream").fill("outbound")
    page.get_by_label("From Address").fill("news@acme.test")

    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Server token accepted")).to_be_visible()
    expect(page.get_by_text("Delivery type: Live.")).to_be_visible()
    assert [(r.method, r.path) for r in postmark_api.requests] == [("GET", "/server")]
    assert postmark_api.accepted == []  # the check sends no mail
    screenshot(page, "postmark-test-connection")

    page.get_by_role("button", name="Save").click()
    provider = EmailProvider.objects.get(nickname="Postmark transactional")
    assert provider.kind == EmailProvider.Kind.POSTMARK
    assert provider.webhook_secret  # generated on save
    webhook_url = page.locator("[data-postmark-webhook-url]").inner_text()
    assert webhook_url.startswith(f"http://postdesk:{provider.webhook_secret}@")
    screenshot(page, "postmark-setup")

    page.get_by_role("button", name="Send a sample callback").click()
    expect(page.get_by_text("Sample callback accepted (200)")).to_be_visible()
    expect(page.get_by_text("Message stream", exact=True)).to_be_visible()

    # Postmark posts a hard bounce to the URL the page showed, with its login and header.
    password = page.locator("[data-postmark-webhook-password]").inner_text()
    with httpx.Client(timeout=10) as http:
        answer = http.post(
            webhook_url,
            content=payload("postmark_bounce_hard.json"),
            headers={"Content-Type": "application/json", "X-Postdesk-Webhook-Secret": password},
        )
    assert answer.status_code == 200
    wait_until_applied()
    profile = Profile.objects.get(email="bounce@example.com")
    page.goto(f"{live_server.url}/profiles/{profile.pk}/")
    expect(page.get_by_text("Inactive").first).to_be_visible()
    expect(page.get_by_text("Hard bounce").first).to_be_visible()
    screenshot(page, "postmark-profile-inactive")
