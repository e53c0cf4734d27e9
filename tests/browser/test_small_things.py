"""Small things a person sees: the Stats axis, the "Test connection" button, the callback log."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from callbacks.models import CallbackLog, DailyStat
from callbacks.receive import loggable_excerpt
from tests.browser.test_small_screen import compact_sendgrid_body
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_stats_chart_counts_in_whole_numbers(signed_in_page, live_server, screenshot):
    provider = EmailProviderFactory(nickname="Relay")
    today = timezone.localdate()
    for days_ago, delivered, hard_bounce in ((0, 2, 1), (1, 1, 0)):
        DailyStat.objects.create(
            provider=provider,
            date=today - datetime.timedelta(days=days_ago),
            delivered=delivered,
            hard_bounce=hard_bounce,
        )
    page = signed_in_page
    page.goto(live_server.url + reverse("callbacks:stats"))
    ticks = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("stats-chart"));
          return [...chart.scales.delivered.ticks, ...chart.scales.failures.ticks]
            .map((tick) => tick.value);
        }"""
    )
    screenshot(page, "stats-small-counts")
    assert ticks and all(float(value).is_integer() for value in ticks), ticks


def test_test_connection_stays_on_one_line(signed_in_page, live_server):
    page = signed_in_page
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + reverse("providers:create", args=["sendgrid"]))
        button = page.get_by_role("button", name="Test connection")
        height = button.evaluate("b => b.getBoundingClientRect().height")
        line = button.evaluate("b => parseFloat(getComputedStyle(b).lineHeight)")
        assert height < 2 * line, f"the button wraps at {width} px ({height} px high)"


def test_the_callback_log_shows_the_address_and_keeps_big_batches_short(
    signed_in_page, live_server, screenshot
):
    provider = EmailProviderFactory(nickname="SendGrid")
    compact = compact_sendgrid_body(1001)
    spaced = json.dumps(json.loads(compact))  # the same batch with ", " and ": "
    for body in (spaced, compact):  # newest first: the compact batch is the first row
        CallbackLog.objects.create(
            provider=provider,
            status_code=200,
            payload_format="sendgrid",
            events_total=1001,
            processed=1001,
            body_excerpt=loggable_excerpt(body.encode()),
        )
    page = signed_in_page
    page.goto(live_server.url + reverse("callbacks:log", args=[provider.pk]))
    screenshot(page, "callback-log-big-batches")
    compact_cell = page.locator("table pre").first
    box = compact_cell.bounding_box()
    # The first address is on screen (wrapped inside the cell, not cut off to the right) …
    address = compact_cell.evaluate(
        """pre => {
          const range = document.createRange();
          const text = pre.firstChild;
          const at = text.data.indexOf("someone@example.org");
          range.setStart(text, at);
          range.setEnd(text, at + "someone@example.org".length);
          return range.getBoundingClientRect().toJSON();
        }"""
    )
    assert box["x"] <= address["x"] and address["right"] <= box["x"] + box["width"] + 1
    assert address["bottom"] <= box["y"] + box["height"] + 1
    # … and a 1001-event row takes a few lines, not the screen, however its JSON is spaced.
    for row in page.get_by_role("row").all()[1:]:
        assert row.bounding_box()["height"] < 300, row.inner_text()[:80]
