from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.health import callback_health
from callbacks.models import DailyStat
from callbacks.stats_views import bounce_rate
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

from .conftest import post

URL = reverse("callbacks:stats")


def stat(provider, days_ago, **counts):
    return DailyStat.objects.create(
        provider=provider, date=timezone.localdate() - timedelta(days=days_ago), **counts
    )


@pytest.fixture
def known_stats(db):
    """Two providers with rows inside 7 days, inside 30 days, inside 90 days and older."""
    alpha = EmailProviderFactory(nickname="Alpha")
    beta = EmailProviderFactory(nickname="Beta")
    stat(alpha, 0, delivered=90, soft_bounce=6, hard_bounce=4, dropped=1, spam=2, unsubscribed=3)
    stat(alpha, 6, delivered=10, invalid=5)
    stat(alpha, 20, delivered=100, hard_bounce=100)
    stat(beta, 1, delivered=50, dropped=7, ignored=99, duplicates=99)
    stat(beta, 89, delivered=1000, soft_bounce=10)
    stat(beta, 90, delivered=5000, hard_bounce=5000)  # outside even the 90-day period
    return alpha, beta


def rows_by_name(response) -> dict:
    return {row["nickname"]: row for row in response.context["rows"]}


def test_bounce_rate_formula():
    assert bounce_rate({"delivered": 90, "soft_bounce": 6, "hard_bounce": 4}) == 10.0
    assert bounce_rate({"delivered": 0, "soft_bounce": 0, "hard_bounce": 0}) is None
    assert bounce_rate({"delivered": 0, "soft_bounce": 1, "hard_bounce": 0}) == 100.0


@pytest.mark.django_db
def test_stats_needs_login(client):
    assert client.get(URL).status_code == 302


@pytest.mark.django_db
def test_seven_days_per_provider_and_total(client_logged_in, known_stats):
    response = client_logged_in.get(URL, {"days": 7})
    assert response.status_code == 200
    rows = rows_by_name(response)
    assert list(rows) == ["Alpha", "Beta"]
    alpha, beta = rows["Alpha"], rows["Beta"]
    assert (alpha["delivered"], alpha["soft_bounce"], alpha["hard_bounce"]) == (100, 6, 4)
    assert (alpha["dropped"], alpha["invalid"], alpha["spam"], alpha["unsubscribed"]) == (
        1,
        5,
        2,
        3,
    )
    assert alpha["bounce_rate"] == pytest.approx(10 * 100 / 110, abs=0.01)
    assert (beta["delivered"], beta["dropped"], beta["bounce_rate"]) == (50, 7, 0.0)

    total = response.context["total"]
    assert total["delivered"] == 150
    assert total["dropped"] == 8
    assert total["bounce_rate"] == pytest.approx(10 * 100 / 160, abs=0.01)

    body = response.content.decode()
    assert "9.09%" in body and "6.25%" in body  # readable without the chart
    assert 'id="stats-chart-data"' in body
    assert "chart.js-4.6.1/chart.umd.min.js" in body
    assert "js/stats_chart.js" in body


@pytest.mark.django_db
def test_longer_periods_include_older_days(client_logged_in, known_stats):
    thirty = rows_by_name(client_logged_in.get(URL, {"days": 30}))
    assert thirty["Alpha"]["delivered"] == 200
    assert thirty["Alpha"]["hard_bounce"] == 104
    assert thirty["Beta"]["delivered"] == 50

    ninety = client_logged_in.get(URL, {"days": 90})
    rows = rows_by_name(ninety)
    assert rows["Beta"]["delivered"] == 1050
    assert rows["Beta"]["hard_bounce"] == 0  # the row 90 days ago is outside the period
    assert ninety.context["total"]["delivered"] == 1250


@pytest.mark.django_db
def test_default_and_invalid_period_is_thirty_days(client_logged_in, known_stats):
    assert client_logged_in.get(URL).context["days"] == 30
    assert client_logged_in.get(URL, {"days": "365"}).context["days"] == 30
    assert client_logged_in.get(URL, {"days": "abc"}).context["days"] == 30


@pytest.mark.django_db
def test_chart_series_has_one_point_per_day(client_logged_in, known_stats):
    chart = client_logged_in.get(URL, {"days": 7}).context["chart"]
    assert len(chart["labels"]) == 7
    assert chart["labels"][-1] == timezone.localdate().isoformat()
    assert chart["series"]["delivered"] == [10, 0, 0, 0, 0, 50, 90]
    assert chart["series"]["dropped"] == [0, 0, 0, 0, 0, 7, 1]


@pytest.mark.django_db
def test_stats_take_two_queries_whatever_the_data(
    client_logged_in, known_stats, django_assert_max_num_queries
):
    for index in range(5):
        provider = EmailProviderFactory()
        for day in range(30):
            stat(provider, day, delivered=index + day)
    # session + user + per-provider sums + per-day sums, and the deliverability rates
    # (thresholds + one query for every provider) and the open-alerts banner
    with django_assert_max_num_queries(7):
        response = client_logged_in.get(URL, {"days": 90})
    assert len(response.context["rows"]) == 7


@pytest.mark.django_db
def test_empty_state_without_data(client_logged_in):
    response = client_logged_in.get(URL)
    assert response.status_code == 200
    assert response.context["chart"] is None
    assert "No delivery data" in response.content.decode()
    assert "chart.umd.min.js" not in response.content.decode()


# --- one time rule on both pages -------------------------------------------------------------


def legacy_soft_bounces(*times: datetime) -> list:
    """A seed-002 legacy bounce body: one soft bounce per time, each its own address."""
    data = [{"e": f"user{i}@example.com", "ts": int(at.timestamp())} for i, at in enumerate(times)]
    return [{"event": "softbounce", "data": data}]


def test_stats_and_provider_page_count_events_at_the_same_time(client_logged_in, make_provider):
    """An old `ts` counts on its own day on both pages; a future one counts when received."""
    provider = make_provider(EmailProvider.Kind.GMAIL, nickname="Mailbox")
    now = timezone.now()
    old, future = now - timedelta(days=40), now + timedelta(days=400)
    post(Client(), provider, legacy_soft_bounces(old, future, now))

    month = rows_by_name(client_logged_in.get(URL, {"days": 30}))["Mailbox"]
    quarter = rows_by_name(client_logged_in.get(URL, {"days": 90}))["Mailbox"]
    assert (month["soft_bounce"], quarter["soft_bounce"]) == (2, 3)
    assert callback_health(provider).counts_today == {"Soft bounce": 2}
    page = client_logged_in.get(reverse("providers:detail", args=[provider.pk]))
    assert "Soft bounce: 2" in page.content.decode()
    assert "Counted on the day each event happened" in page.content.decode()
    stats_page = client_logged_in.get(URL).content.decode()
    assert "Each event counts on the day it happened" in stats_page
