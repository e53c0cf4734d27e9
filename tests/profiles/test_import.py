import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from callbacks import services as callback_services
from callbacks.formats.base import CallbackEvent
from callbacks.models import EventKind
from config.celery_app import app as celery_app
from profiles import importing
from profiles.models import Profile, ProfileImport
from profiles.tasks import import_profiles
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory, ProfileFactory


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def run(data: bytes) -> ProfileImport:
    profile_import = ProfileImport.objects.create(filename="people.csv", source=data)
    importing.run_import(profile_import)
    profile_import.refresh_from_db()
    return profile_import


@pytest.fixture
def eager_celery():
    """Run tasks in-process, as CELERY_TASK_ALWAYS_EAGER=True would."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


# --- The service ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_good_rows_import_and_bad_rows_are_reported_with_line_numbers():
    result = run(
        csv_bytes(
            "email,name",
            "Ann@Example.com,Ann Smith",  # line 2
            "not-an-email,Broken",  # line 3
            ",No address",  # line 4
            "",  # line 5: blank lines are skipped quietly
            "bob@example.com,  Bob   Jones ",  # line 6
        )
    )
    assert result.status == ProfileImport.Status.DONE
    # The blank line is not a row: four lines read, two created, two bad.
    assert result.total == 4
    assert result.processed == 4
    assert result.created_count == 2
    assert result.updated_count == 0
    assert result.unchanged_count == 0
    assert result.error_count == 2
    assert [error["line"] for error in result.errors] == [3, 4]
    assert "not a valid email" in result.errors[0]["message"]
    assert "missing" in result.errors[1]["message"]
    assert dict(Profile.objects.values_list("email", "name")) == {
        "ann@example.com": "Ann Smith",
        "bob@example.com": "Bob Jones",
    }
    assert bytes(result.source) == b""  # the file is not kept once imported


@pytest.mark.django_db
def test_import_updates_names_but_keeps_suppressed_address_inactive():
    since = timezone.now()
    ProfileFactory(
        email="gone@example.com",
        name="Old name",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.HARD_BOUNCE,
        inactive_since=since,
        inactive_provider="SendGrid main",
    )
    ProfileFactory(email="keep@example.com", name="Kept name")

    result = run(
        csv_bytes("name,email", "New name,GONE@example.com", ",keep@example.com", "Neu,new@x.org")
    )

    # keep@example.com names no new name: it is unchanged, not updated.
    assert (
        result.created_count,
        result.updated_count,
        result.unchanged_count,
        result.error_count,
    ) == (1, 1, 1, 0)
    gone = Profile.objects.get(email="gone@example.com")
    assert gone.name == "New name"
    assert gone.status == Profile.Status.INACTIVE
    assert gone.inactive_reason == Profile.Reason.HARD_BOUNCE
    assert gone.inactive_since == since
    assert gone.inactive_provider == "SendGrid main"
    # An empty name leaves the existing name alone.
    assert Profile.objects.get(email="keep@example.com").name == "Kept name"
    assert Profile.objects.get(email="new@x.org").status == Profile.Status.ACTIVE


@pytest.mark.django_db
def test_case_variant_duplicate_is_reported_not_merged():
    result = run(csv_bytes("email,name", "a@x.org,First", "b@x.org,Bee", "A@X.org,Second"))
    assert (result.created_count, result.error_count) == (2, 1)
    assert result.errors[0]["line"] == 4
    assert "already on line 2" in result.errors[0]["message"]
    assert Profile.objects.get(email="a@x.org").name == "First"


@pytest.mark.django_db
def test_bad_lines_are_reported_and_every_good_line_is_imported():
    ProfileFactory(email="same@x.org", name="Same")
    ProfileFactory(email="renamed@x.org", name="Old")
    data = b"\n".join(
        [
            b"email,name",
            b"ann@x.org,Ann",  # line 2
            b"nul@x.org,Bad\x00name",  # line 3: a NUL byte
            "zoë@x.org,Zoë".encode("latin-1"),  # line 4: not UTF-8
            b"not an email,Nobody",  # line 5
            b"ANN@x.org,Ann again",  # line 6: a case-variant duplicate of line 2
            b"same@x.org,Same",  # line 7: unchanged
            b"renamed@x.org,New",  # line 8: updated
            "emile@x.org,Émile".encode(),  # line 9
            b"",
        ]
    )
    result = run(data)
    assert result.status == ProfileImport.Status.DONE
    assert [error["line"] for error in result.errors] == [3, 4, 5, 6]
    assert "NUL byte" in result.errors[0]["message"]
    assert "not UTF-8" in result.errors[1]["message"]
    assert "not a valid email address" in result.errors[2]["message"]
    assert "already on line 2" in result.errors[3]["message"]
    assert (
        result.created_count,
        result.updated_count,
        result.unchanged_count,
        result.error_count,
    ) == (2, 1, 1, 4)
    assert result.processed == result.total == 8
    assert result.processed == (
        result.created_count + result.updated_count + result.unchanged_count + result.error_count
    )
    assert dict(Profile.objects.values_list("email", "name")) == {
        "ann@x.org": "Ann",
        "same@x.org": "Same",
        "renamed@x.org": "New",
        "emile@x.org": "Émile",
    }


@pytest.mark.django_db
def test_import_in_several_chunks_reports_progress(monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 10)
    lines = ["email"] + [f"user{index}@example.com" for index in range(35)] + ["bad"]
    result = run(csv_bytes(*lines))
    assert result.created_count == 35
    assert result.processed == result.total == 36
    assert result.errors == [{"line": 37, "message": "“bad” is not a valid email address."}]
    assert result.percent == 100
    assert Profile.objects.count() == 35


@pytest.mark.django_db
def test_multiline_quoted_field_keeps_line_numbers_right():
    result = run(csv_bytes("email,name", 'a@x.org,"Two\nlines"', "broken,x"))
    assert result.errors == [{"line": 4, "message": "“broken” is not a valid email address."}]
    assert Profile.objects.get(email="a@x.org").name == "Two lines"


@pytest.mark.django_db
def test_too_long_name_is_a_row_error():
    result = run(csv_bytes("email,name", "a@x.org," + "n" * 201, "b@x.org,ok"))
    assert result.errors[0]["line"] == 2
    assert "longer than 200" in result.errors[0]["message"]
    assert list(Profile.objects.values_list("email", flat=True)) == ["b@x.org"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name\nAnn\n", "must be “email”"),
        ("émail,nom\nzoe@example.com,Zoë\n".encode("latin-1"), "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_unusable_file_fails_with_a_clear_message(data, message):
    result = run(data)
    assert result.status == ProfileImport.Status.FAILED
    assert message in result.failure
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_excel_bom_and_header_aliases_are_accepted():
    result = run("\ufeffE-mail Address,Full Name\r\nann@x.org,Ann\r\n".encode())
    assert result.status == ProfileImport.Status.DONE
    assert Profile.objects.get().name == "Ann"


@pytest.mark.django_db
def test_task_runs_the_import_and_ignores_a_finished_one():
    profile_import = ProfileImport.objects.create(source=csv_bytes("email", "a@x.org"))
    import_profiles(profile_import.pk)
    profile_import.refresh_from_db()
    assert profile_import.status == ProfileImport.Status.DONE
    Profile.objects.all().delete()

    import_profiles(profile_import.pk)  # a redelivered task does nothing
    import_profiles(987654)  # nor does one for a deleted import
    assert not Profile.objects.exists()


# --- The upload view -------------------------------------------------------------------------


@pytest.mark.django_db
def test_upload_queues_the_import_and_shows_progress(
    client_logged_in, eager_celery, django_capture_on_commit_callbacks
):
    ProfileFactory(
        email="gone@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.SPAM,
    )
    upload = SimpleUploadedFile(
        "people.csv",
        csv_bytes("email,name", "ann@example.com,Ann", "oops,Bad", "gone@example.com,Gone"),
        content_type="text/csv",
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_logged_in.post(reverse("profiles:import"), {"file": upload})
    assert len(callbacks) == 1

    profile_import = ProfileImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:import_status", args=[profile_import.pk])
    assert profile_import.status == ProfileImport.Status.DONE
    assert profile_import.errors == [{"line": 3, "message": "“oops” is not a valid email address."}]
    assert Profile.objects.get(email="ann@example.com").name == "Ann"
    gone = Profile.objects.get(email="gone@example.com")
    assert (gone.status, gone.name) == (Profile.Status.INACTIVE, "Gone")

    page = client_logged_in.get(response["Location"])
    assert page.status_code == 200
    assert "“oops” is not a valid email address." in page.content.decode()

    progress = client_logged_in.get(
        reverse("profiles:import_progress", args=[profile_import.pk])
    ).json()
    assert progress == {
        "status": "done",
        "status_label": "Finished",
        "finished": True,
        "total": 3,
        "processed": 3,
        "percent": 100,
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": 1,
        "failure": "",
    }


@pytest.mark.django_db
def test_progress_of_a_running_import(client_logged_in):
    profile_import = ProfileImport.objects.create(
        status=ProfileImport.Status.RUNNING, total=200, processed=50
    )
    progress = client_logged_in.get(
        reverse("profiles:import_progress", args=[profile_import.pk])
    ).json()
    assert progress["percent"] == 25
    assert progress["finished"] is False
    page = client_logged_in.get(reverse("profiles:import_status", args=[profile_import.pk]))
    assert b"js/profile_import.js" in page.content
    assert b"data-progress-url" in page.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("email\nzoë@x.org\n".encode("utf-16"), "not UTF-8"),
        (b"name,phone\nAnn,123\n", "must be “email”"),
        (b"\n\n", "empty"),
    ],
)
def test_upload_rejects_unusable_file_at_once(client_logged_in, data, message):
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    response = client_logged_in.post(reverse("profiles:import"), {"file": upload})
    assert response.status_code == 200
    assert message in response.context["form"].errors["file"][0]
    assert not ProfileImport.objects.exists()


@pytest.mark.django_db
def test_upload_accepts_a_file_with_one_line_that_is_not_utf8(
    client_logged_in, eager_celery, django_capture_on_commit_callbacks
):
    data = b"email\nann@x.org\n" + "zoë@x.org\n".encode("latin-1")
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_logged_in.post(reverse("profiles:import"), {"file": upload})
    assert response.status_code == 302
    profile_import = ProfileImport.objects.get()
    assert (profile_import.created_count, profile_import.error_count) == (1, 1)
    assert profile_import.errors[0]["line"] == 3


@pytest.mark.django_db
def test_upload_rejects_a_file_over_the_size_limit(client_logged_in, settings):
    settings.PROFILE_IMPORT_MAX_BYTES = 100
    upload = SimpleUploadedFile("big.csv", b"email\n" + b"a@x.org\n" * 50)
    response = client_logged_in.post(reverse("profiles:import"), {"file": upload})
    assert response.status_code == 200
    assert "the limit is" in response.context["form"].errors["file"][0]
    assert not ProfileImport.objects.exists()


@pytest.mark.django_db
def test_import_pages_need_login(client):
    profile_import = ProfileImport.objects.create()
    for url in (
        reverse("profiles:import"),
        reverse("profiles:import_status", args=[profile_import.pk]),
        reverse("profiles:import_progress", args=[profile_import.pk]),
    ):
        assert client.get(url).status_code == 302


# --- An import and callback batches at once (PostgreSQL row locks) ---------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (DATABASE_URL)"
)


def start_thread(call) -> tuple[threading.Thread, list]:
    """Run `call` in a thread with its own database connection; errors land in the list."""
    errors: list[Exception] = []

    def run():
        try:
            call()
        except Exception as exc:  # asserted by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def wait_for_lock_waits(count: int) -> None:
    """Poll until `count` sessions of this database wait for a row lock."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.02)
    raise AssertionError(f"{count} sessions never waited for a lock")


def locking_session(sql: str, params: list):
    """A second connection, in a transaction that has run `sql`."""
    holder = connections.create_connection("default")
    holder.inc_thread_sharing()  # the deadlock test carries on with it from another thread
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute(sql, params)
    return holder


def finish(thread: threading.Thread, errors: list) -> None:
    thread.join(timeout=60)
    assert not thread.is_alive(), "a thread is still waiting"
    assert not errors


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_import_and_callback_batch_on_the_same_profiles_do_not_deadlock():
    """Both lock profiles in email order, so they queue instead of deadlocking."""
    emails = [f"p{index:02}@example.com" for index in range(40)]
    Profile.objects.bulk_create(Profile(email=email, name="Old") for email in emails)
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    events = [
        CallbackEvent(
            email=email,
            kind=EventKind.HARD_BOUNCE,
            occurred_at=timezone.now(),
            dedupe_key=f"{index:032x}",
            suppress=True,
        )
        for index, email in enumerate(emails)
    ]
    # The file lists the addresses backwards; the callback batch, forwards.
    profile_import = ProfileImport.objects.create(
        source=csv_bytes("email,name", *[f"{email},New" for email in reversed(emails)])
    )
    # A third session holds a profile in the middle until both writers wait, so that each has
    # locked what it locks first before either goes on.
    holder = locking_session(
        "SELECT id FROM profiles_profile WHERE email = %s FOR UPDATE", [emails[20]]
    )
    try:
        importer = start_thread(lambda: importing.run_import(profile_import))
        callback = start_thread(lambda: callback_services.apply_events(provider, events))
        wait_for_lock_waits(2)
        holder.rollback()
        finish(*importer)
        finish(*callback)
    finally:
        holder.close()

    profile_import.refresh_from_db()
    assert profile_import.status == ProfileImport.Status.DONE
    assert (profile_import.updated_count, profile_import.error_count) == (40, 0)
    assert set(Profile.objects.values_list("name", "status", "inactive_reason")) == {
        ("New", Profile.Status.INACTIVE, Profile.Reason.HARD_BOUNCE)
    }


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_import_retries_a_chunk_that_lost_a_deadlock():
    Profile.objects.bulk_create(
        [Profile(email="a@example.com", name="A"), Profile(email="z@example.com", name="Z")]
    )
    profile_import = ProfileImport.objects.create(
        source=csv_bytes("email,name", "a@example.com,Ann", "z@example.com,Zed")
    )
    # The other session holds z, waits for the import to lock a, then asks for a: a deadlock.
    # It waits longer before looking for deadlocks, so PostgreSQL cancels the import's chunk.
    holder = locking_session(
        "SET LOCAL deadlock_timeout = '20s'; "
        "SELECT id FROM profiles_profile WHERE email = %s FOR UPDATE",
        ["z@example.com"],
    )
    try:
        importer = start_thread(lambda: importing.run_import(profile_import))
        wait_for_lock_waits(1)

        def take_a_then_commit():
            with holder.cursor() as cursor:
                cursor.execute(
                    "UPDATE profiles_profile SET name = 'Other' WHERE email = 'a@example.com'"
                )
            holder.commit()

        other = start_thread(take_a_then_commit)
        finish(*other)
        finish(*importer)
    finally:
        holder.close()

    profile_import.refresh_from_db()
    assert profile_import.status == ProfileImport.Status.DONE
    assert (profile_import.updated_count, profile_import.error_count) == (2, 0)
    assert dict(Profile.objects.values_list("email", "name")) == {
        "a@example.com": "Ann",
        "z@example.com": "Zed",
    }
