"""The profile list's query: search, filters, sort and pagination without COUNT(*).

Shared by the list page and the CSV export so both show the same profiles in the same order.
Every sort ends on a unique column so pages never overlap, and each leading sort column has
an index (see Profile.Meta.indexes).
"""

from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.db.models.functions import Lower

from .models import Profile

SORTS = {
    "email": ("email",),
    "-email": ("-email",),
    "name": (Lower("name"), "email"),
    "-name": (Lower("name").desc(), "-email"),
    "status": ("status", "inactive_reason", "email"),
    "-status": ("-status", "-inactive_reason", "-email"),
    # Addresses that are Active (no date) come last in both directions.
    "inactive_since": (F("inactive_since").asc(nulls_last=True), "email"),
    "-inactive_since": (F("inactive_since").desc(nulls_last=True), "email"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}

PER_PAGE = 50
# Deep OFFSETs get slow on a million rows; nobody pages that far instead of searching.
MAX_PAGE = 2000


def filtered_profiles(filters: dict) -> QuerySet:
    queryset = Profile.objects.search(filters.get("q", "")).with_status(
        filters.get("status", ""), filters.get("reason", "")
    )
    return queryset.order_by(*SORTS.get(filters.get("sort") or "email", SORTS["email"]))


@dataclass
class Page:
    """A page of a list whose total is never counted: it only knows if another page follows."""

    items: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def page_number(raw, max_page: int = MAX_PAGE) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), max_page)


def paginate_without_count(queryset: QuerySet, raw_page, per_page: int = PER_PAGE) -> Page:
    """One query: fetch a page plus one row, which tells whether a next page exists."""
    number = page_number(raw_page)
    start = (number - 1) * per_page
    rows = list(queryset[start : start + per_page + 1])
    return Page(items=rows[:per_page], number=number, has_next=len(rows) > per_page)
