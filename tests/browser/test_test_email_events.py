"""A marketer sends a test email and sees on its page what the ESP's callback reported."""

import httpx
from playwright.sync_api import expect

from providers.models import TestEmail
from tests.factories import EmailProviderFactory
from tests.servers import wait_until_applied


def test_a_callback_naming_the_test_email_shows_on_its_page(
    signed_in_page,
    live_server,
    settings,
    smtp_server,
    celery_worker,
    screenshot,  # noqa: F811
):
    settings.SITE_URL = live_server.url
    server = smtp_server("smtp")
    provider = EmailProviderFactory(
        nickname="Loopback relay", host=server.host, port=server.port, scheme="smtp", username=""
    )
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Send test email (Loopback relay)").click()
    page.get_by_label("Recipient").fill("qa@acme.test")
    page.get_by_role("button", name="Send test email").click()
    expect(page.get_by_text("Sent", exact=True)).to_be_visible(timeout=20_000)
    events = page.locator("#test-email-events")
    expect(events).to_contain_text("Nothing yet")

    test_email = TestEmail.objects.get(provider=provider)
    [message] = server.messages
    meta = message.message["X-Postdesk-Meta"]
    assert meta == f"qa@acme.test|{test_email.pk}|{provider.pk}"
    bounce = {
        "version": "v2",
        "events": {
            "failed": [
                {
                    "type": "hard_bounce",
                    "email": "qa@acme.test",
                    "meta": meta,
                    "description": "550 5.1.1 mailbox does not exist",
                }
            ]
        },
    }
    response = httpx.post(live_server.url + provider.callback_path, json=bounce, timeout=10)
    assert response.json()["status"] == "success"
    wait_until_applied()

    page.reload()
    row = events.get_by_role("row").filter(has_text="Hard bounce")
    expect(row).to_contain_text("550 5.1.1 mailbox does not exist")
    expect(events).not_to_contain_text("Nothing yet")
    screenshot(page, "test-email-events")


def test_a_failed_test_email_drops_the_reload_hint_and_shows_its_attempts(
    signed_in_page, live_server, smtp_server, celery_worker
):
    server = smtp_server("smtp", refuse={"ghost@acme.test": "550 5.1.1 User unknown"})
    EmailProviderFactory(
        nickname="Loopback relay", host=server.host, port=server.port, scheme="smtp", username=""
    )
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Send test email (Loopback relay)").click()
    page.get_by_label("Recipient").fill("ghost@acme.test")
    page.get_by_role("button", name="Send test email").click()
    expect(page.get_by_text("Failed", exact=True)).to_be_visible(timeout=20_000)

    events = page.locator("#test-email-events")
    expect(events.get_by_text("Nothing yet")).to_be_hidden()
    expect(events.get_by_text("Nothing to report: the message was not sent.")).to_be_visible()
    expect(page.locator("#test-email-status")).to_contain_text("1 attempt.")
    page.reload()  # the same once the page is loaded after the verdict
    expect(events.get_by_text("Nothing yet")).to_be_hidden()
    expect(page.locator("#test-email-status")).to_contain_text("1 attempt.")
