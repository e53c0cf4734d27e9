"""The Stats page: delivery outcomes per provider and in total over 7, 30 or 90 days.

Built from the DailyStat counters (one row per provider per day), never by counting events:
one query sums the period per provider, a second sums it per day for the chart.
"""

from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .models import DailyStat

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
METRICS = ("delivered", "soft_bounce", "hard_bounce", "dropped", "invalid", "spam", "unsubscribed")
METRIC_LABELS = {
    "delivered": "Delivered",
    "soft_bounce": "Soft bounces",
    "hard_bounce": "Hard bounces",
    "dropped": "Dropped",
    "invalid": "Invalid",
    "spam": "Spam",
    "unsubscribed": "Unsubscribed",
}
SUMS = {metric: Sum(metric, default=0) for metric in METRICS}


def period_days(raw) -> int:
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def period_start(days: int, today: date) -> date:
    """The first day of a period of `days` days that ends today (included)."""
    return today - timedelta(days=days - 1)


def bounce_rate(row: dict) -> float | None:
    """Bounces (soft + hard) as a percentage of the messages that reached a receiving server
    (delivered + bounced); None when nothing was sent."""
    bounces = row["soft_bounce"] + row["hard_bounce"]
    attempts = row["delivered"] + bounces
    if not attempts:
        return None
    return round(bounces * 100 / attempts, 2)


def provider_rows(start: date, end: date) -> list[dict]:
    rows = list(
        DailyStat.objects.filter(date__range=(start, end))
        .values("provider_id", "provider__nickname")
        .annotate(**SUMS)
        .order_by("provider__nickname")
    )
    for row in rows:
        row["nickname"] = row.pop("provider__nickname")
        row["bounce_rate"] = bounce_rate(row)
    return rows


def total_row(rows: list[dict]) -> dict:
    total = {metric: sum(row[metric] for row in rows) for metric in METRICS}
    total["bounce_rate"] = bounce_rate(total)
    return total


def daily_series(start: date, end: date) -> dict:
    """Per-day totals for the chart, with zero for days without any row."""
    by_day = {
        row["date"]: row
        for row in DailyStat.objects.filter(date__range=(start, end))
        .values("date")
        .annotate(**SUMS)
        .order_by("date")
    }
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return {
        "metric_labels": METRIC_LABELS,
        "labels": [day.isoformat() for day in days],
        "series": {
            metric: [by_day[day][metric] if day in by_day else 0 for day in days]
            for metric in METRICS
        },
    }


@login_required
@require_GET
def stats(request):
    days = period_days(request.GET.get("days"))
    end = timezone.localdate()
    start = period_start(days, end)
    rows = provider_rows(start, end)
    context = {
        "days": days,
        "periods": PERIODS,
        "start": start,
        "end": end,
        "rows": rows,
        "total": total_row(rows),
        "chart": daily_series(start, end) if rows else None,
    }
    return render(request, "callbacks/stats.html", context)
