"""Rates as the issue defines them, over the day-row windows the page states."""

from decimal import Decimal

import pytest

from deliverability.models import Metric, Thresholds, Window
from deliverability.rates import provider_rates
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db


def test_bounce_rate_is_bounces_over_delivered_plus_bounces(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, delivered=900, soft_bounce=40, hard_bounce=60, spam=3, dropped=500)
    rates = provider_rates()[provider.pk]
    # (40 + 60) / (900 + 40 + 60) = 10%; dropped is not part of it, as on the Stats page.
    assert rates.reading(Metric.BOUNCE_RATE, Window.DAY).rate == Decimal("10.00")
    # 3 / 900
    assert rates.reading(Metric.COMPLAINT_RATE, Window.DAY).rate == Decimal("0.33")


def test_24_hour_window_counts_yesterday_and_today_only(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, days_ago=0, delivered=100)
    add_stats(provider, days_ago=1, delivered=100, hard_bounce=10)
    add_stats(provider, days_ago=2, delivered=100, hard_bounce=90)
    rates = provider_rates()[provider.pk]
    day = rates.reading(Metric.BOUNCE_RATE, Window.DAY)
    assert day.delivered == 200
    assert day.rate == Decimal("4.76")  # 10 / 210


def test_7_day_window_counts_today_and_the_seven_days_before(add_stats):
    provider = EmailProviderFactory()
    add_stats(provider, days_ago=7, delivered=100, spam=1)
    add_stats(provider, days_ago=8, delivered=1000, spam=100)
    week = provider_rates()[provider.pk].reading(Metric.COMPLAINT_RATE, Window.WEEK)
    assert week.delivered == 100
    assert week.rate == Decimal("1.00")


def test_statuses_against_default_thresholds(add_stats):
    warned, critical, quiet, small = EmailProviderFactory.create_batch(4)
    add_stats(warned, delivered=970, hard_bounce=30)  # 3% bounce: warning (2%)
    add_stats(critical, delivered=1000, spam=4)  # 0.4% complaints: critical (0.3%)
    add_stats(quiet, delivered=1000, hard_bounce=1)
    add_stats(small, delivered=2, hard_bounce=1)  # one bounce in three: too few to judge
    rates = provider_rates()
    assert rates[warned.pk].reading(Metric.BOUNCE_RATE, Window.DAY).status == "warning"
    assert rates[critical.pk].reading(Metric.COMPLAINT_RATE, Window.DAY).status == "critical"
    assert rates[quiet.pk].worst_status == "ok"
    small_bounce = rates[small.pk].reading(Metric.BOUNCE_RATE, Window.DAY)
    assert small_bounce.crossed == "critical" and small_bounce.alert_level is None
    assert small_bounce.status == "low_volume"


def test_default_thresholds_follow_the_issue():
    thresholds = Thresholds.current()
    assert thresholds.bounce_warning == Decimal("2")
    assert thresholds.bounce_critical == Decimal("5")
    assert thresholds.complaint_warning == Decimal("0.1")
    assert thresholds.complaint_critical == Decimal("0.3")
    assert thresholds.minimum_delivered == 100


def test_provider_without_stats_has_no_rate():
    provider = EmailProviderFactory()
    rates = provider_rates([provider.pk])[provider.pk]
    assert rates.worst_status == "no_data"


def test_all_providers_in_one_query(add_stats, django_assert_num_queries):
    providers = EmailProviderFactory.create_batch(5)
    for provider in providers:
        add_stats(provider, delivered=500, hard_bounce=5)
    thresholds = Thresholds.current()
    with django_assert_num_queries(1):
        rates = provider_rates(thresholds=thresholds)
    assert set(rates) == {p.pk for p in providers}
