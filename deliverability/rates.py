"""Bounce and complaint rates per provider over the rolling windows, from `DailyStat`.

The counters are kept per provider per day (the site's time zone), so a window is a set of
whole days: "last 24 hours" counts yesterday's and today's rows (every event of the last 24
hours is in them, and at most 48 hours are counted); "last 7 days" counts today and the seven
days before, for the same reason. One query reads both windows for every provider.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from callbacks.models import DailyStat

from .models import Level, Metric, Thresholds, Window

WINDOW_DAYS = {Window.DAY: 1, Window.WEEK: 7}  # days before today that a window includes
COUNTERS = ("delivered", "soft_bounce", "hard_bounce", "spam")
CENT = Decimal("0.01")
NO_EVENTS = {f"{window.name}_{counter}": 0 for window in Window for counter in COUNTERS}


def percentage(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Reading:
    """One rate in one window, judged against the thresholds."""

    metric: str
    window: str
    rate: Decimal | None
    delivered: int
    warning: Decimal
    critical: Decimal
    minimum_delivered: int

    @property
    def metric_label(self) -> str:
        return Metric(self.metric).label

    @property
    def window_label(self) -> str:
        return Window(self.window).label

    @property
    def crossed(self) -> str | None:
        """The highest level the rate reached, whatever the volume."""
        if self.rate is None:
            return None
        if self.rate >= self.critical:
            return Level.CRITICAL
        if self.rate >= self.warning:
            return Level.WARNING
        return None

    @property
    def enough_volume(self) -> bool:
        return self.delivered >= self.minimum_delivered

    @property
    def alert_level(self) -> str | None:
        """The level to alert on: only with the minimum volume delivered."""
        return self.crossed if self.enough_volume else None

    @property
    def status(self) -> str:
        """ok / warning / critical / low_volume / no_data, for the page."""
        if self.rate is None:
            return "no_data"
        if not self.enough_volume:
            return "low_volume"
        return self.crossed or "ok"


@dataclass
class ProviderRates:
    provider_id: int
    readings: list[Reading] = field(default_factory=list)

    def reading(self, metric: str, window: str) -> Reading:
        return next(r for r in self.readings if r.metric == metric and r.window == window)

    @property
    def by_metric(self) -> list[list[Reading]]:
        """The readings grouped by metric (each group: one reading per window)."""
        return [[r for r in self.readings if r.metric == metric] for metric in Metric]

    @property
    def worst_status(self) -> str:
        order = ["no_data", "low_volume", "ok", "warning", "critical"]
        return max((r.status for r in self.readings), key=order.index, default="no_data")


def window_start(window: str, today: date) -> date:
    return today - timedelta(days=WINDOW_DAYS[window])


def window_sums(today: date) -> dict:
    sums = {}
    for window in Window:
        in_window = Q(date__gte=window_start(window, today), date__lte=today)
        for counter in COUNTERS:
            sums[f"{window.name}_{counter}"] = Sum(counter, filter=in_window, default=0)
    return sums


def readings_for(row: dict, thresholds: Thresholds) -> list[Reading]:
    readings = []
    for window in Window:
        delivered = row[f"{window.name}_delivered"]
        bounces = row[f"{window.name}_soft_bounce"] + row[f"{window.name}_hard_bounce"]
        spam = row[f"{window.name}_spam"]
        rates = {
            Metric.BOUNCE_RATE: percentage(bounces, delivered + bounces),
            Metric.COMPLAINT_RATE: percentage(spam, delivered),
        }
        for metric, rate in rates.items():
            limits = thresholds.limits(metric)
            readings.append(
                Reading(
                    metric=metric,
                    window=window,
                    rate=rate,
                    delivered=delivered,
                    warning=limits[Level.WARNING],
                    critical=limits[Level.CRITICAL],
                    minimum_delivered=thresholds.minimum_delivered,
                )
            )
    return readings


def provider_rates(
    provider_ids: list[int] | None = None,
    *,
    today: date | None = None,
    thresholds: Thresholds | None = None,
) -> dict[int, ProviderRates]:
    """{provider id: its rates} for the given providers (all when None), in one query.

    A provider without any counters in the last 7 days gets readings without a rate.
    """
    today = today or timezone.localdate()
    thresholds = thresholds or Thresholds.current()
    stats = DailyStat.objects.filter(date__gte=window_start(Window.WEEK, today), date__lte=today)
    if provider_ids is not None:
        stats = stats.filter(provider_id__in=provider_ids)
    rows = {
        row["provider_id"]: row
        for row in stats.values("provider_id").annotate(**window_sums(today)).order_by()
    }
    ids = provider_ids if provider_ids is not None else list(rows)
    return {pk: ProviderRates(pk, readings_for(rows.get(pk, NO_EVENTS), thresholds)) for pk in ids}
