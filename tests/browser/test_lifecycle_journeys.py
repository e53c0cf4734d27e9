"""Journeys: rotating a callback URL, deleting a provider with callbacks waiting, a failed test
email through an unreachable ESP."""

import json
import re

from playwright.sync_api import expect

from callbacks.models import CallbackLog, PendingBatch
from profiles.models import Profile
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import closed_port  # noqa: F401  (fixture)


def test_rotating_the_callback_url_asks_first_and_says_the_old_url_dies(
    signed_in_page, live_server, screenshot
):
    provider = EmailProviderFactory(nickname="Relay")
    old_token = provider.callback_token
    page = signed_in_page
    page.goto(f"{live_server.url}/settings/email/providers/{provider.pk}/")

    page.get_by_role("link", name="Rotate callback URL").click()
    expect(page.get_by_role("heading", name="Rotate the callback URL of “Relay”?")).to_be_visible()
    expect(page.get_by_text("stops working the moment you rotate")).to_be_visible()
    expect(page.get_by_text(provider.callback_path)).to_be_visible()
    screenshot(page, "provider-rotate-confirmation")
    page.get_by_role("link", name="Cancel").click()
    provider.refresh_from_db()
    assert provider.callback_token == old_token  # looking changed nothing

    page.get_by_role("link", name="Rotate callback URL").click()
    page.get_by_role("button", name="Rotate callback URL").click()
    expect(page.get_by_role("alert").first).to_contain_text("New callback URL generated")
    provider.refresh_from_db()
    assert provider.callback_token != old_token
    assert provider.callback_path in page.content()  # the detail page shows the new URL


def test_the_delete_page_says_waiting_callbacks_are_applied_first(
    signed_in_page, live_server, screenshot
):
    provider = EmailProviderFactory(sendgrid=True, nickname="Doomed")
    body = [{"email": "ada@example.org", "event": "bounce", "type": "bounce", "timestamp": 1}]
    log = CallbackLog.objects.create(
        provider=provider, payload_format="sendgrid", status_code=200, processed=1
    )
    PendingBatch.objects.create(log=log, body=json.dumps(body).encode())
    page = signed_in_page
    page.goto(f"{live_server.url}/settings/email/providers/{provider.pk}/delete/")

    expect(page.get_by_role("heading", name="Delete “Doomed”?")).to_be_visible()
    waiting = page.locator("[data-waiting-batches]")
    expect(waiting).to_contain_text("applied to profiles before it is removed")
    expect(waiting).to_contain_text("1 batch still waiting")
    screenshot(page, "provider-delete-waiting-callbacks")
    page.get_by_role("button", name="Delete provider").click()

    expect(page.get_by_role("alert").first).to_contain_text("deleted")
    assert not EmailProvider.objects.filter(pk=provider.pk).exists()
    assert Profile.objects.get(email="ada@example.org").status == Profile.Status.INACTIVE


def test_a_test_email_through_an_unreachable_sendgrid_reads_right_while_and_after_failing(
    signed_in_page,
    settings,
    closed_port,  # noqa: F811
    celery_worker,
    screenshot,
):
    settings.SENDGRID_API_URL = f"http://127.0.0.1:{closed_port}"
    EmailProviderFactory(sendgrid=True, nickname="Grid")
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Send test email (Grid)").click()
    page.get_by_label("Recipient").fill("qa@acme.test")
    page.get_by_role("button", name="Send test email").click()

    status = page.locator("#test-email-status")
    expect(status).to_contain_text("trying again in a few seconds", timeout=10_000)
    expect(status.get_by_text("Failed", exact=True)).to_be_visible(timeout=20_000)
    expect(status).to_contain_text("API connection error")
    expect(status).to_contain_text("tried 3 times and has stopped trying")
    text = status.inner_text()
    assert "SendGrid said" not in text and "SMTP" not in text
    assert not re.search(r"tries (again|once more)", text)
    screenshot(page, "test-email-failed-unreachable-api")
