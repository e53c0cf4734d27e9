"""Import profiles from a CSV file with the columns email and name.

`check_csv` validates the upload before it is queued (encoding, header, size), so the user
hears about a wrong file at once; `run_import` does the work in a Celery task, in chunks of
bulk upserts, and records progress and bad rows (by line number) on the `ProfileImport`.

An import only ever creates profiles and updates names: it never touches the email status,
so an address that a callback or the recipient suppressed stays Inactive.
"""

import csv
import io
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from .models import Profile, ProfileImport, normalize_email

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
EMAIL_MAX_LENGTH = Profile._meta.get_field("email").max_length
NAME_MAX_LENGTH = Profile._meta.get_field("name").max_length

EMAIL_HEADERS = {"email", "e-mail", "email address", "e-mail address"}
NAME_HEADERS = {"name", "full name"}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for the user."""


@dataclass(frozen=True)
class Columns:
    email: int
    name: int | None


@dataclass
class ChunkResult:
    created: int = 0
    updated: int = 0


@dataclass
class RowErrors:
    count: int = 0
    first: list[dict] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append({"line": line, "message": message})


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). "
            "Save it as “CSV UTF-8” and upload it again."
        ) from exc


def read_columns(header: list[str]) -> Columns:
    names = [cell.strip().lower() for cell in header]
    email = next((i for i, cell in enumerate(names) if cell in EMAIL_HEADERS), None)
    if email is None:
        raise ImportFileError(
            "The first line must name the columns, and one of them must be “email” "
            "(an optional “name” column sets the name)."
        )
    name = next((i for i, cell in enumerate(names) if cell in NAME_HEADERS), None)
    return Columns(email=email, name=name)


def check_csv(data: bytes) -> Columns:
    """Validate a whole upload's encoding and header; raise ImportFileError if unusable."""
    if not data.strip():
        raise ImportFileError("The file is empty.")
    text = decode(data)
    try:
        header = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise ImportFileError(f"The first line cannot be read as CSV: {exc}.") from exc
    if not header:
        raise ImportFileError("The first line is empty; it must name the columns.")
    return read_columns(header)


def run_import(profile_import: ProfileImport) -> None:
    """Import the file stored on `profile_import`, recording progress as it goes."""
    ProfileImport.objects.filter(pk=profile_import.pk).update(
        status=ProfileImport.Status.RUNNING,
        started_at=timezone.now(),
        processed=0,
        created_count=0,
        updated_count=0,
        error_count=0,
        errors=[],
        failure="",
    )
    try:
        text = decode(bytes(profile_import.source))
        if not text.strip():
            raise ImportFileError("The file is empty.")
        _import_text(profile_import, text)
    except ImportFileError as exc:
        _finish(profile_import, ProfileImport.Status.FAILED, failure=str(exc))
    except Exception:
        logger.exception("Profile import %s failed", profile_import.pk)
        _finish(
            profile_import,
            ProfileImport.Status.FAILED,
            failure="The import stopped because of an internal error; rows already imported "
            "are kept. Try again, or contact the administrator if it happens again.",
        )
        raise
    else:
        _finish(profile_import, ProfileImport.Status.DONE)


def _import_text(profile_import: ProfileImport, text: str) -> None:
    total = max(0, _count_records(text) - 1)
    ProfileImport.objects.filter(pk=profile_import.pk).update(total=total)

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise ImportFileError(f"The first line cannot be read as CSV: {exc}.") from exc
    columns = read_columns(header)
    errors = RowErrors()
    totals = ChunkResult()
    processed = 0
    chunk: dict[str, str] = {}
    for line, cells, problem in _records(reader):
        processed += 1
        if problem:
            errors.add(line, problem)
        elif cells is not None:
            email, name, problem = _validate_row(cells, columns)
            if problem:
                errors.add(line, problem)
            elif email:
                # A later row for the same address wins (and one upsert may not touch a row
                # twice on PostgreSQL).
                chunk.pop(email, None)
                chunk[email] = name
        if len(chunk) >= CHUNK_SIZE:
            _save_chunk(profile_import, chunk, totals, processed, errors)
            chunk = {}
    _save_chunk(profile_import, chunk, totals, processed, errors)


def _count_records(text: str) -> int:
    count = 0
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            next(reader)
        except StopIteration:
            return count
        except csv.Error:
            pass
        count += 1


def _records(reader):
    """(line number, cells or None for a blank line, problem) for every record after the header."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, None, f"This line cannot be read as CSV: {exc}."
            continue
        if not any(cell.strip() for cell in cells):
            yield reader.line_num, None, ""
            continue
        yield reader.line_num, cells, ""


def _validate_row(cells: list[str], columns: Columns) -> tuple[str, str, str]:
    raw_email = cells[columns.email].strip() if columns.email < len(cells) else ""
    name = ""
    if columns.name is not None and columns.name < len(cells):
        name = " ".join(cells[columns.name].split())
    if not raw_email:
        return "", "", "The email address is missing."
    email = normalize_email(raw_email)
    if len(email) > EMAIL_MAX_LENGTH:
        return "", "", f"The email address is longer than {EMAIL_MAX_LENGTH} characters."
    try:
        validate_email(email)
    except ValidationError:
        return "", "", f"“{_shorten(raw_email)}” is not a valid email address."
    if len(name) > NAME_MAX_LENGTH:
        return "", "", f"The name is longer than {NAME_MAX_LENGTH} characters."
    return email, name, ""


def _save_chunk(
    profile_import: ProfileImport,
    chunk: dict[str, str],
    totals: ChunkResult,
    processed: int,
    errors: RowErrors,
) -> None:
    with transaction.atomic():
        if chunk:
            result = upsert_profiles(chunk)
            totals.created += result.created
            totals.updated += result.updated
        ProfileImport.objects.filter(pk=profile_import.pk).update(
            processed=processed,
            created_count=totals.created,
            updated_count=totals.updated,
            error_count=errors.count,
            errors=errors.first,
        )


def upsert_profiles(rows: dict[str, str]) -> ChunkResult:
    """Create the missing profiles and set the names of existing ones, in three queries.

    `rows` maps normalised email to name; an empty name leaves an existing name alone.
    Status and the inactive fields are never written, so suppressions survive an import.
    """
    existing = set(Profile.objects.filter(email__in=list(rows)).values_list("email", flat=True))
    named = [Profile(email=email, name=name) for email, name in rows.items() if name]
    unnamed = [Profile(email=email) for email, name in rows.items() if not name]
    if named:
        Profile.objects.bulk_create(
            named,
            update_conflicts=True,
            unique_fields=["email"],
            update_fields=["name", "updated_at"],
        )
    if unnamed:
        Profile.objects.bulk_create(unnamed, ignore_conflicts=True)
    updated = len(existing)
    return ChunkResult(created=len(rows) - updated, updated=updated)


def _finish(profile_import: ProfileImport, status: str, failure: str = "") -> None:
    ProfileImport.objects.filter(pk=profile_import.pk).update(
        status=status, failure=failure, finished_at=timezone.now(), source=b""
    )
    profile_import.refresh_from_db()


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
