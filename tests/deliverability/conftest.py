from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks.models import DailyStat


@pytest.fixture
def add_stats():
    """add_stats(provider, days_ago=0, delivered=…, hard_bounce=…): one DailyStat row."""

    def add(provider, days_ago: int = 0, **counters) -> DailyStat:
        day = timezone.localdate() - timedelta(days=days_ago)
        return DailyStat.objects.create(provider=provider, date=day, **counters)

    return add
