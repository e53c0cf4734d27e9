"""A marketer sees a threshold crossed on the dashboard and acknowledges the banner."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from callbacks.models import DailyStat
from deliverability.tasks import check_thresholds
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_threshold_crossed_shows_banner_until_acknowledged(signed_in_page, live_server, screenshot):
    provider = EmailProviderFactory(nickname="Newsletters")
    stat = DailyStat.objects.create(provider=provider, date=timezone.localdate(), delivered=990)
    page = signed_in_page
    page.goto(live_server.url + reverse("providers:detail", args=[provider.pk]))
    banner = page.locator("#deliverability-alerts")
    expect(banner).to_have_count(0)
    rates = page.locator("#deliverability-heading").locator("..")
    expect(rates).to_contain_text("OK")

    stat.hard_bounce = 60  # 5.71%: past the 5% critical level
    stat.save()
    check_thresholds()  # what beat runs every minute
    page.goto(live_server.url + reverse("providers:list"))
    expect(banner).to_contain_text("Critical: Newsletters's bounce rate was 5.71%")
    expect(page.locator("#provider-list, table").first).to_contain_text("Critical")
    screenshot(page, "deliverability-banner")

    banner.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("alert").filter(has_text="Alert acknowledged")).to_be_visible()
    expect(banner).to_have_count(0)
    page.goto(live_server.url + reverse("deliverability:alerts"))
    expect(page.locator("#alert-history")).to_contain_text("by marketer")
