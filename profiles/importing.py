"""Import profiles from a CSV file with the columns email and name.

`check_csv` validates the upload before it is queued (header, size), so the user hears about
a wrong file at once; `run_import` does the work in a Celery task, in chunks of bulk upserts,
and records progress and bad rows (by line number) on the `ProfileImport`. A bad line (not
UTF-8, a NUL byte, a malformed address, an address an earlier line already gave) is reported
and skipped; every good line is imported. The counts add up: every non-blank line read is
created, updated, unchanged or bad.

An import only ever creates profiles and updates names: it never touches the email status,
so an address that a callback or the recipient suppressed stays Inactive. Each chunk writes
its profiles in email order, the order every bulk writer of profiles locks them in, and a
chunk that still loses a deadlock (to a callback batch creating the same addresses, say) is
retried.
"""

import csv
import io
import logging
import random
import re
import time
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import OperationalError, transaction
from django.utils import timezone

from common.bulk_sql import bound_cursor, model_defaults, rows_source, table_name

from .models import Profile, ProfileImport, normalize_email

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
EMAIL_MAX_LENGTH = Profile._meta.get_field("email").max_length
NAME_MAX_LENGTH = Profile._meta.get_field("name").max_length

EMAIL_HEADERS = {"email", "e-mail", "email address", "e-mail address"}
NAME_HEADERS = {"name", "full name"}

# Bytes that are not UTF-8 survive decoding as lone surrogates (errors="surrogateescape"), so
# one bad line is found and reported without losing the file's other lines.
UNDECODABLE = re.compile("[\udc80-\udcff]")
DEADLOCK_SQLSTATE = "40P01"
DEADLOCK_ATTEMPTS = 5


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
    unchanged: int = 0

    def add(self, other: "ChunkResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class RowErrors:
    count: int = 0
    first: list[dict] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append({"line": line, "message": message})


def decode(data: bytes) -> str:
    """The file's text; bytes that are not UTF-8 become lone surrogates (see UNDECODABLE)."""
    return data.decode("utf-8-sig", errors="surrogateescape")


def read_columns(header: list[str]) -> Columns:
    if any(UNDECODABLE.search(cell) for cell in header):
        raise ImportFileError(
            "The file is not UTF-8 text (its first line cannot be read). "
            "Save it as “CSV UTF-8” and upload it again."
        )
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
    """Validate an upload's header; raise ImportFileError if the file is unusable."""
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
        unchanged_count=0,
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
    first_line: dict[str, int] = {}  # every address read so far, with the line that gave it
    chunk: dict[str, str] = {}
    for line, cells, problem in _records(reader):
        processed += 1
        if not problem:
            email, name, problem = _validate_row(cells, columns)
        if not problem and email in first_line:
            problem = (
                f"The address {_shorten(email)} is already on line {first_line[email]} "
                "(addresses are the same whatever their upper and lower case); "
                "this line was skipped."
            )
        if problem:
            errors.add(line, problem)
        else:
            first_line[email] = line
            chunk[email] = name
        if len(chunk) >= CHUNK_SIZE:
            _save_chunk(profile_import, chunk, totals, processed, errors)
            chunk = {}
    _save_chunk(profile_import, chunk, totals, processed, errors)


def _count_records(text: str) -> int:
    """Non-blank records, the header included."""
    count = 0
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return count
        except csv.Error:
            cells = ["?"]
        if _is_blank(cells):
            continue
        count += 1


def _records(reader):
    """(line number, cells, problem) for every non-blank record after the header.

    Blank lines are skipped quietly and not counted as read.
    """
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, [], f"This line cannot be read as CSV: {exc}."
            continue
        if _is_blank(cells):
            continue
        yield reader.line_num, cells, _unreadable(cells)


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _unreadable(cells: list[str]) -> str:
    """Why the line's text cannot be stored at all, or ""."""
    if any(UNDECODABLE.search(cell) for cell in cells):
        return "This line is not UTF-8 text; save the file as “CSV UTF-8” and upload it again."
    if any("\x00" in cell for cell in cells):
        return "This line contains a NUL byte (a binary character), which a profile cannot hold."
    return ""


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
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                result = upsert_profiles(chunk) if chunk else ChunkResult()
                ProfileImport.objects.filter(pk=profile_import.pk).update(
                    processed=processed,
                    created_count=totals.created + result.created,
                    updated_count=totals.updated + result.updated,
                    unchanged_count=totals.unchanged + result.unchanged,
                    error_count=errors.count,
                    errors=errors.first,
                )
        except OperationalError as exc:
            if not lost_a_deadlock(exc) or attempt == DEADLOCK_ATTEMPTS:
                raise
            logger.warning("Profile import %s lost a deadlock; retrying", profile_import.pk)
            time.sleep(random.uniform(0.05, 0.2) * attempt)  # let the winner commit first
        else:
            totals.add(result)
            return


def lost_a_deadlock(exc: OperationalError) -> bool:
    """PostgreSQL chose this transaction to break a deadlock: running it again can succeed."""
    return getattr(exc.__cause__, "sqlstate", None) == DEADLOCK_SQLSTATE


def upsert_profiles(rows: dict[str, str]) -> ChunkResult:
    """Create the missing profiles and set the names of existing ones, in one statement.

    `rows` maps normalised email to name; an empty name leaves an existing name alone.
    Status and the inactive fields are never written, so suppressions survive an import.
    Rows are written (and so locked) in email order, like every other bulk writer of profiles.
    """
    now = timezone.now()
    profile_table = table_name(Profile)
    fixed_names, fixed_values = model_defaults(Profile, exclude={"email", "name"}, now=now)
    source, params = rows_source([("email", "text"), ("name", "text")], rows.items())
    columns = ", ".join(["email", "name", *fixed_names])
    placeholders = ", ".join(["v.email", "v.name", *["%s"] * len(fixed_names)])
    # A new row has created_at = updated_at = now; an updated one keeps its created_at; a row
    # whose name stays the same is not updated and so not returned.
    sql = (
        f"INSERT INTO {profile_table} ({columns}) "  # noqa: S608
        f"SELECT {placeholders} FROM ({source}) AS v WHERE true ORDER BY v.email "
        "ON CONFLICT (email) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at "
        f"WHERE excluded.name <> '' AND {profile_table}.name <> excluded.name "
        "RETURNING created_at = updated_at"
    )
    with bound_cursor() as cursor:
        cursor.execute(sql, [*fixed_values, *params])
        written = [bool(created) for (created,) in cursor.fetchall()]
    created = sum(written)
    updated = len(written) - created
    return ChunkResult(created=created, updated=updated, unchanged=len(rows) - len(written))


def _finish(profile_import: ProfileImport, status: str, failure: str = "") -> None:
    ProfileImport.objects.filter(pk=profile_import.pk).update(
        status=status, failure=failure, finished_at=timezone.now(), source=b""
    )
    profile_import.refresh_from_db()


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
