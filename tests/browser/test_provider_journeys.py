"""Provider journeys: add, copy the callback URL, edit, delete, and bad input."""

import re

import pytest
from playwright.sync_api import expect

from providers.models import EmailProvider
from tests.factories import EmailProviderFactory


@pytest.fixture
def clipboard(signed_in_page, live_server):
    signed_in_page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live_server.url
    )
    return signed_in_page


def fill_generic_smtp(page, nickname: str, port: str = "2525", host: str = "127.0.0.1") -> None:
    page.get_by_label("Nickname").fill(nickname)
    page.get_by_label("Host").fill(host)
    page.get_by_label("Port").fill(port)
    page.get_by_label("Scheme").select_option(label="STARTTLS")
    page.get_by_label("Username").fill("mailer")
    page.get_by_label("Password").fill("relay-password-1234")
    page.get_by_label("From Address").fill("news@example.com")


def test_add_generic_smtp_provider_becomes_default_and_callback_url_copies(
    clipboard, live_server, settings, screenshot, smtp_server
):
    settings.SITE_URL = live_server.url
    relay = smtp_server("starttls", auth=True)
    page = clipboard
    expect(page.get_by_role("heading", name="Set up your first email provider")).to_be_visible()
    screenshot(page, "providers-empty")

    page.get_by_role("link", name="+ Provider").first.click()
    page.get_by_label("Provider").select_option(label="Generic SMTP")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="New Generic SMTP provider")).to_be_visible()
    fill_generic_smtp(page, "Loopback relay", port=str(relay.port), host=relay.host)
    screenshot(page, "provider-form")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("It is your default provider")).to_be_visible()
    provider = EmailProvider.objects.get(nickname="Loopback relay")
    assert provider.is_default
    assert (provider.host, provider.port, provider.scheme) == (relay.host, relay.port, "starttls")
    callback_field = page.get_by_label("Callback URL")
    expect(callback_field).to_have_value(provider.callback_url)
    expect(callback_field).not_to_be_editable()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server.url}/callbacks/{provider.callback_token}/"
    screenshot(page, "provider-detail")

    page.get_by_role("link", name="Providers").click()
    row = page.get_by_role("row", name=re.compile("Loopback relay"))
    expect(row.get_by_text("Default")).to_be_visible()
    screenshot(page, "providers-list")


def test_edit_shows_success_and_never_the_password(signed_in_page, live_server):
    provider = EmailProviderFactory(nickname="Relay", secret="old-password-5678")
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Edit (Relay)").click()
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_text("Password on file: ends in ••••5678")).to_be_visible()
    page.get_by_label("Default From Name").fill("The Relay Team")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Email settings updated successfully")
    provider.refresh_from_db()
    assert provider.from_name == "The Relay Team"
    assert provider.secret == "old-password-5678"
    page.get_by_role("link", name="Edit (Relay)").click()
    expect(page.get_by_label("Password")).to_have_value("")
    assert "old-password-5678" not in page.content()


def test_delete_goes_through_the_warning_page(signed_in_page, screenshot):
    EmailProviderFactory(nickname="Keeper")
    doomed = EmailProviderFactory(nickname="Doomed")
    EmailProvider.objects.mark_default(doomed)
    page = signed_in_page
    page.reload()
    page.get_by_role("link", name="Delete (Doomed)").click()
    expect(page.get_by_role("heading", name="Delete “Doomed”?")).to_be_visible()
    expect(page.get_by_text("callback URL", exact=False).first).to_be_visible()
    screenshot(page, "provider-delete-warning")
    assert EmailProvider.objects.filter(nickname="Doomed").exists()

    page.get_by_label("New default provider").select_option(label="Keeper")
    page.get_by_role("button", name="Delete provider").click()
    expect(page.get_by_role("alert").first).to_contain_text("deleted")
    assert not EmailProvider.objects.filter(nickname="Doomed").exists()
    assert EmailProvider.objects.get(nickname="Keeper").is_default


def test_bad_input_shows_field_errors(signed_in_page, live_server, screenshot):
    EmailProviderFactory(nickname="Taken")
    page = signed_in_page
    page.goto(live_server.url + "/settings/email/providers/add/smtp/")
    fill_generic_smtp(page, "Taken", port="70000")
    page.get_by_label("Host").fill("smtp://mail.example.com")
    page.get_by_label("From Address").fill("not-an-address")
    page.get_by_label("Email Preference Center").select_option(label="Custom URL")
    page.get_by_label("Preference center URL").fill("")
    # Browser-side validation would stop the form first; the server must speak for itself.
    page.locator("form").first.evaluate("form => form.noValidate = true")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("Another provider already uses this nickname")).to_be_visible()
    expect(page.get_by_text("without smtp://")).to_be_visible()
    expect(page.get_by_text("less than or equal to 65535")).to_be_visible()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    expect(page.get_by_text("Enter the address of your preference center")).to_be_visible()
    screenshot(page, "provider-form-errors")
    assert EmailProvider.objects.count() == 1
