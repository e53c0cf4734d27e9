"""What a recipient meets: the links in a message a real SMTP server received, opened in Chromium
by an anonymous browser."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from profiles.models import Profile, TimelineEvent
from providers.adapters import OutgoingMessage, adapter_for
from providers.models import EmailProvider, TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from tests.factories import EmailProviderFactory, ProfileFactory


@pytest.fixture
def system_center_provider(smtp_server, live_server, settings):
    """A provider with the system preference center, sending to a loopback SMTP server."""
    settings.SITE_URL = live_server.url
    server = smtp_server("smtp")
    provider = EmailProviderFactory(
        nickname="Loopback relay",
        host=server.host,
        port=server.port,
        scheme="smtp",
        username="",
        from_address="news@acme.test",
        preference_center=EmailProvider.PreferenceCenter.SYSTEM,
    )
    return provider, server


@pytest.fixture
def recipient_page(browser):
    """A browser context with no session: the recipient, not a Postdesk user."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def list_unsubscribe_url(received) -> str:
    return re.fullmatch(r"<(.+)>", received.message["List-Unsubscribe"]).group(1)


def test_recipient_changes_preferences_then_unsubscribes_from_a_received_message(
    system_center_provider,
    recipient_page,
    signed_in_page,
    live_server,
    screenshot,
):
    provider, server = system_center_provider
    profile = ProfileFactory(email="ada@example.org")
    adapter_for(provider).send(
        OutgoingMessage(to="ada@example.org", subject="News", text="Hello", meta="x|1|1")
    )
    [received] = server.messages
    page = recipient_page

    # The link in the message, opened in a browser, shows the preference center.
    page.goto(list_unsubscribe_url(received))
    expect(page.get_by_role("heading", name="Email preferences")).to_be_visible()
    expect(page.get_by_text("ada@example.org")).to_be_visible()
    page.get_by_label("Offers").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your email preferences are saved.")).to_be_visible()
    expect(page.get_by_label("Offers")).not_to_be_checked()
    profile.refresh_from_db()
    assert profile.unsubscribed_categories == ["offers"]
    assert profile.is_active

    page.get_by_label("Unsubscribe me from all email").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("You are unsubscribed from all email from us.")).to_be_visible()
    expect(page.get_by_text("we send no email to this address")).to_be_visible()
    expect(page.get_by_label("Unsubscribe me from all email")).to_be_checked()
    screenshot(page, "preference-center-unsubscribed")

    dashboard = signed_in_page
    dashboard.goto(f"{live_server.url}/profiles/{profile.pk}/")
    expect(dashboard.get_by_text("Inactive", exact=True)).to_be_visible()
    expect(dashboard.get_by_text("Unsubscribed").first).to_be_visible()
    expect(dashboard.get_by_text("Opted out of: Offers")).to_be_visible()
    expect(dashboard.get_by_text("Preferences Updated")).to_be_visible()
    expect(dashboard.get_by_text("Channel Unsubscribed")).to_have_count(1)


def test_a_stale_form_gets_a_recipients_page_not_djangos(system_center_provider, recipient_page):
    provider, server = system_center_provider
    adapter_for(provider).send(OutgoingMessage(to="ada@example.org", subject="News", text="Hi"))
    page = recipient_page
    page.goto(list_unsubscribe_url(server.messages[0]))
    page.context.clear_cookies()  # as when the page stayed open past its CSRF cookie

    page.get_by_label("Unsubscribe me from all email").check()
    page.get_by_role("button", name="Save preferences").click()

    expect(page.get_by_role("heading", name="Your preferences were not saved")).to_be_visible()
    expect(page.get_by_text("CSRF")).to_have_count(0)
    page.get_by_role("link", name="Open the preferences page again").click()
    expect(page.get_by_role("heading", name="Email preferences")).to_be_visible()
    assert not Profile.objects.exists()


def test_a_test_emails_links_say_it_was_a_test_and_change_nothing(
    system_center_provider, recipient_page
):
    provider, server = system_center_provider
    colleague = ProfileFactory(email="colleague@acme.test", unsubscribed_categories=[])
    test_email = TestEmail.objects.create(provider=provider, recipient="colleague@acme.test")
    assert deliver_test_email(test_email) == DeliveryOutcome.SENT
    [received] = server.messages
    header_url = list_unsubscribe_url(received)
    html = received.message.get_body(("html",)).get_content()
    [body_url] = re.findall(r'href="([^"]+)"', html)

    # The mailbox provider's one-click POST: answered, and nothing changes.
    answer = httpx.post(
        header_url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200

    page = recipient_page
    for url in (header_url, body_url):
        page.goto(url)
        expect(page.get_by_role("heading", name="This link came from a test email")).to_be_visible()
        expect(page.get_by_text("Nothing about your subscription has changed.")).to_be_visible()
        expect(page.get_by_role("button", name="Save preferences")).to_have_count(0)

    colleague.refresh_from_db()
    assert colleague.is_active
    assert colleague.unsubscribed_categories == []
    assert not TimelineEvent.objects.exists()
    assert Profile.objects.count() == 1
