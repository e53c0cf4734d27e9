"""Export the profile list as CSV in the background, then stream the stored file.

A million profiles take longer to write than a web worker may spend on one request, so the
page only records a `ProfileExport`; `run_export` (in a Celery task) writes the CSV in parts
of `PART_ROWS` profiles, recording progress, and `stream_csv` sends the finished file with
one query per part.
"""

import csv
import io
import logging
import zlib
from collections.abc import Iterator
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .listing import filtered_profiles
from .models import ProfileExport, ProfileExportPart

logger = logging.getLogger(__name__)

PART_ROWS = 20_000
KEEP_EXPORTS_FOR = timedelta(days=1)

COLUMNS = [
    "email",
    "name",
    "status",
    "inactive_reason",
    "inactive_since",
    "inactive_provider",
    "created_at",
]

# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def start_export(filters: dict, *, by) -> ProfileExport:
    """Record an export of the profiles `filters` select; exports older than a day go."""
    prune_old_exports()
    return ProfileExport.objects.create(created_by=by, filters=filters)


def prune_old_exports() -> None:
    """Delete the exports (and their files) older than `KEEP_EXPORTS_FOR`."""
    ProfileExport.objects.filter(created_at__lt=timezone.now() - KEEP_EXPORTS_FOR).delete()


def run_export(export: ProfileExport) -> None:
    """Write the CSV of `export` in compressed parts, recording progress as it goes."""
    profiles = filtered_profiles(export.filters)
    ProfileExportPart.objects.filter(export=export).delete()  # a redelivered task starts over
    ProfileExport.objects.filter(pk=export.pk).update(
        status=ProfileExport.Status.RUNNING,
        started_at=timezone.now(),
        total=profiles.count(),
        processed=0,
    )
    try:
        _write_parts(export, profiles.values_list(*COLUMNS).iterator(chunk_size=PART_ROWS))
    except Exception:
        logger.exception("Profile export %s failed", export.pk)
        _finish(export, ProfileExport.Status.FAILED)
        raise
    _finish(export, ProfileExport.Status.DONE)


def _write_parts(export: ProfileExport, rows: Iterator[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    number = written = 0
    for written, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(value) for value in row])
        if written % PART_ROWS == 0:
            number += 1
            _save_part(export, number, buffer, written)
    _save_part(export, number + 1, buffer, written)


def _save_part(export: ProfileExport, number: int, buffer: io.StringIO, written: int) -> None:
    data = zlib.compress(buffer.getvalue().encode(), 1)
    buffer.seek(0)
    buffer.truncate()
    with transaction.atomic():
        ProfileExportPart.objects.create(export=export, number=number, data=data)
        ProfileExport.objects.filter(pk=export.pk).update(processed=written)


def _finish(export: ProfileExport, status: str) -> None:
    ProfileExport.objects.filter(pk=export.pk).update(status=status, finished_at=timezone.now())
    export.refresh_from_db()


def safe_cell(value) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def stream_csv(export: ProfileExport) -> Iterator[bytes]:
    """The finished file, part by part: one query and one part in memory at a time."""
    numbers = export.parts.order_by("number").values_list("number", flat=True)
    for number in list(numbers):
        data = ProfileExportPart.objects.filter(export=export, number=number).values_list(
            "data", flat=True
        )[0]
        yield zlib.decompress(bytes(data))
