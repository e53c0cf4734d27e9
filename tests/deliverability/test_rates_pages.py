"""Each rate with its threshold, in colour and words, on the three pages; no query per row."""

import pytest
from django.urls import reverse

from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db


def status_words(html: str) -> list[str]:
    return [word for word in ("Critical", "Warning", "OK", "Too few to judge") if word in html]


@pytest.mark.parametrize("page", ["providers:list", "callbacks:stats"])
def test_list_pages_show_rates_with_thresholds(client_logged_in, add_stats, page):
    provider = EmailProviderFactory(nickname="Newsletters")
    add_stats(provider, delivered=970, hard_bounce=30)
    html = client_logged_in.get(reverse(page)).content.decode()
    assert "3.00%" in html and "text-bg-warning" in html and "Warning</span>" in html
    assert "warning at 2.00%, critical at 5.00%" in html
    assert "yesterday’s and today’s events" in html or page == "providers:list"


def test_provider_page_shows_rates_and_window_rule(client_logged_in, add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=1000, spam=5)
    html = client_logged_in.get(reverse("providers:detail", args=[provider.pk])).content.decode()
    assert "0.50%" in html and "text-bg-danger" in html and "Critical</span>" in html
    assert "yesterday’s and today’s events" in html


@pytest.mark.parametrize("page", ["providers:list", "callbacks:stats"])
def test_rates_cost_no_query_per_row(client_logged_in, add_stats, page, django_assert_num_queries):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client_logged_in.get(reverse(page)).status_code == 200
        return len(queries)

    add_stats(EmailProviderFactory(), delivered=10)
    one = count()
    for provider in EmailProviderFactory.create_batch(4):
        add_stats(provider, delivered=10)
    assert count() == one
