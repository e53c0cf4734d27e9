"""A marketer sets up a bounce mailbox; a bounce that arrives in it shows on the profile."""

import time

from django.urls import reverse
from playwright.sync_api import expect

from callbacks.mailbox.models import BounceMailbox
from tests.callbacks.mailbox.bounces import bounce_for
from tests.factories import EmailProviderFactory, ProfileFactory
from tests.imap_server import IMAP_PASSWORD, IMAP_USER, imap_server  # noqa: F401  (fixture)
from tests.servers import wait_until_applied


def wait_until_polled(timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not BounceMailbox.objects.filter(messages_read__gt=0).exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the mailbox was not read within {timeout}s")
        time.sleep(0.05)


def test_a_bounce_appended_to_the_mailbox_arrives_on_the_profile(
    signed_in_page,
    live_server,
    imap_server,  # noqa: F811
    celery_worker,
    screenshot,
):
    provider = EmailProviderFactory(nickname="Office relay", kind="smtp")
    profile = ProfileFactory(email="gone@customer.test")
    page = signed_in_page
    page.goto(live_server.url + reverse("providers:detail", args=[provider.pk]))
    panel = page.locator("#bounce-mailbox")
    expect(panel).to_contain_text("Not set up")
    panel.get_by_role("link", name="Read bounces from a mailbox").click()

    page.get_by_label("IMAP host").fill(imap_server.host)
    page.get_by_label("Port").fill(str(imap_server.port))
    page.get_by_label("TLS").select_option("starttls")
    page.get_by_label("Username").fill(IMAP_USER)
    page.get_by_label("Password").fill(IMAP_PASSWORD)
    page.get_by_role("button", name="Test mailbox").click()
    check = page.locator("#mailbox-check")
    expect(check).to_contain_text("The settings work.")
    expect(check).to_contain_text("STARTTLS")
    expect(check).to_contain_text("Folder")
    page.get_by_label("Password").fill(IMAP_PASSWORD)  # write-only: typed again to save
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Bounce mailbox saved.")).to_be_visible()

    imap_server.append(bounce_for("gone@customer.test"))
    page.goto(live_server.url + reverse("providers:detail", args=[provider.pk]))
    panel.get_by_role("button", name="Poll now").click()
    wait_until_polled()
    wait_until_applied()

    page.reload()
    expect(panel.locator('[data-mailbox-count="bounces"]')).to_have_text("1")
    screenshot(page, "bounce-mailbox-health")
    page.goto(live_server.url + reverse("profiles:detail", args=[profile.pk]))
    expect(page.locator("main")).to_contain_text("Inactive")
    expect(page.locator("main")).to_contain_text("Hard bounce")
    screenshot(page, "bounce-mailbox-profile")
