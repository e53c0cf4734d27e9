"""Journeys through the real parts: a Celery worker, a loopback SMTP server, a callback."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from profiles.models import Profile
from providers.models import TestEmail
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER, wait_until_applied


@pytest.fixture
def relay(smtp_server):
    server = smtp_server("starttls", auth=True)
    provider = EmailProviderFactory(
        nickname="Loopback relay",
        host=server.host,
        port=server.port,
        scheme="starttls",
        username=SMTP_USER,
        secret=SMTP_PASSWORD,
        from_address="news@acme.test",
    )
    return provider, server


def test_send_a_test_email_and_see_it_sent_without_reloading(
    signed_in_page,
    relay,
    celery_worker,
    screenshot,  # noqa: F811
):
    provider, server = relay
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Send test email (Loopback relay)").click()
    recipient = page.get_by_label("Recipient")
    expect(recipient).to_have_value("marketer@example.com")
    recipient.fill("qa@acme.test")
    page.get_by_role("button", name="Send test email").click()

    expect(page.get_by_role("heading", name="Test email to qa@acme.test")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    expect(page.get_by_text("Sent", exact=True)).to_be_visible(timeout=20_000)
    expect(page.get_by_text(re.compile(r"Took \d"))).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "test-email-sent")

    test_email = TestEmail.objects.get(provider=provider)
    assert test_email.status == TestEmail.Status.SENT
    [received] = server.messages
    assert received.rcpt_tos == ["qa@acme.test"]
    assert received.message["X-Postdesk-Meta"] == f"qa@acme.test|{test_email.pk}|{provider.pk}"


def test_hard_bounce_posted_to_the_copied_url_turns_the_profile_inactive(
    signed_in_page,
    live_server,
    settings,
    celery_worker,
    screenshot,  # noqa: F811
):
    settings.SITE_URL = live_server.url
    EmailProviderFactory(nickname="Loopback relay")
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Loopback relay", exact=True).click()
    callback_url = page.get_by_label("Callback URL").input_value()

    bounce = {
        "version": "v2",
        "events": {
            "failed": [
                {
                    "type": "hard_bounce",
                    "email": "Grace@Example.org",
                    "meta": "grace@example.org|1|1",
                    "description": "550 5.1.1 mailbox does not exist",
                }
            ]
        },
    }
    response = httpx.post(callback_url, json=bounce, timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    wait_until_applied()  # by the worker, a moment after the answer

    page.get_by_role("link", name="Profiles").click()
    search = page.get_by_role("searchbox", name="Search")
    search.fill("grace@example.org")
    search.press("Enter")
    row = page.get_by_role("row", name=re.compile("grace@example.org"))
    expect(row).to_contain_text("Inactive")
    screenshot(page, "profiles-list")
    row.get_by_role("link", name=re.compile("grace@example.org")).click()
    expect(page.get_by_text("550 5.1.1 mailbox does not exist").first).to_be_visible()
    expect(page.get_by_role("cell", name="Channel Unsubscribed")).to_be_visible()
    expect(page.get_by_role("cell", name="Notification Failed")).to_be_visible()
    screenshot(page, "profile-inactive")
    assert Profile.objects.get(email="grace@example.org").status == Profile.Status.INACTIVE

    page.get_by_role("link", name="Stats").click()
    provider_row = page.get_by_role("row", name=re.compile("^Loopback relay"))
    hard_bounces = page.get_by_role("columnheader").all_inner_texts().index("Hard bounces")
    expect(provider_row.get_by_role("cell").nth(hard_bounces - 1)).to_have_text("1")
    screenshot(page, "stats")
