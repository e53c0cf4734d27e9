"""Retry delays that double after each failure in a row, up to a ceiling."""

from datetime import timedelta


def retry_delay(failures: int, *, first_seconds: int, last_seconds: int) -> timedelta:
    """The wait before the next try after `failures` failures in a row (1 for the first)."""
    return timedelta(seconds=min(first_seconds * 2 ** (failures - 1), last_seconds))
