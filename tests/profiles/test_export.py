import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.celery_app import app as celery_app
from profiles import exporting
from profiles.models import Profile, ProfileExport, ProfileExportPart
from profiles.tasks import export_profiles
from tests.factories import ProfileFactory

URL = reverse("profiles:export")


@pytest.fixture
def eager_celery():
    """Run tasks in-process, as CELERY_TASK_ALWAYS_EAGER=True would."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def parse(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def export_and_download(client, django_capture_on_commit_callbacks, **filters) -> list[dict]:
    """Start an export as the page's button does, let the task run, download the file."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, filters)
    export = ProfileExport.objects.latest("id")
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:export_status", args=[export.pk])
    download = client.get(reverse("profiles:export_download", args=[export.pk]))
    assert download.status_code == 200
    assert download.streaming
    assert download["Content-Type"].startswith("text/csv")
    assert f'attachment; filename="{export.filename}"' == download["Content-Disposition"]
    return parse(b"".join(download.streaming_content))


@pytest.mark.django_db
def test_export_needs_login(client):
    export = ProfileExport.objects.create()
    for url in (
        URL,
        reverse("profiles:export_status", args=[export.pk]),
        reverse("profiles:export_progress", args=[export.pk]),
        reverse("profiles:export_download", args=[export.pk]),
    ):
        assert client.get(url).status_code == 302
    assert client.post(URL).status_code == 302
    assert ProfileExport.objects.count() == 1


@pytest.mark.django_db
def test_export_page_says_what_it_exports_and_starts_nothing(client_logged_in):
    response = client_logged_in.get(URL, {"q": "ann", "status": "inactive", "reason": "spam"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "matching “ann”" in html
    assert "with status Inactive" in html
    assert '<input type="hidden" name="status" value="inactive">' in html
    assert not ProfileExport.objects.exists()


@pytest.mark.django_db
def test_export_sentence_has_no_stray_space_before_its_comma(client_logged_in):
    html = client_logged_in.get(URL, {"status": "inactive"}).content.decode()
    assert "the profiles with status Inactive, in the list's order" in html


@pytest.mark.django_db
def test_export_builds_the_file_in_the_background_and_downloads_it(
    client_logged_in, eager_celery, django_capture_on_commit_callbacks
):
    ProfileFactory(email="b@example.com", name="Bee")
    ProfileFactory(
        email="a@example.com",
        name="Ay",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.SPAM,
        inactive_since=timezone.now(),
        inactive_provider="Netcore",
    )
    rows = export_and_download(client_logged_in, django_capture_on_commit_callbacks)
    assert [row["email"] for row in rows] == ["a@example.com", "b@example.com"]
    assert rows[0]["status"] == "inactive"
    assert rows[0]["inactive_reason"] == "spam"
    assert rows[0]["inactive_provider"] == "Netcore"
    assert rows[0]["inactive_since"]
    assert rows[1]["inactive_since"] == ""

    export = ProfileExport.objects.get()
    progress = client_logged_in.get(reverse("profiles:export_progress", args=[export.pk]))
    assert progress.json() == {
        "status": "done",
        "status_label": "Ready",
        "finished": True,
        "total": 2,
        "processed": 2,
        "percent": 100,
    }
    page = client_logged_in.get(reverse("profiles:export_status", args=[export.pk]))
    assert reverse("profiles:export_download", args=[export.pk]) in page.content.decode()


@pytest.mark.django_db
def test_export_honours_search_filters_and_sort(
    client_logged_in, eager_celery, django_capture_on_commit_callbacks
):
    ProfileFactory(email="keep1@example.com", name="Zed")
    ProfileFactory(email="keep2@example.com", name="Abe")
    ProfileFactory(email="other@example.com", name="Keeper")
    ProfileFactory(
        email="keep3@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.HARD_BOUNCE,
    )
    rows = export_and_download(
        client_logged_in,
        django_capture_on_commit_callbacks,
        q="keep",
        status="active",
        sort="name",
    )
    assert [row["email"] for row in rows] == [
        "keep2@example.com",
        "other@example.com",
        "keep1@example.com",
    ]


@pytest.mark.django_db
def test_export_neutralises_spreadsheet_formulas(
    client_logged_in, eager_celery, django_capture_on_commit_callbacks
):
    ProfileFactory(email="x@example.com", name='=HYPERLINK("http://evil")')
    rows = export_and_download(client_logged_in, django_capture_on_commit_callbacks)
    assert rows[0]["name"].startswith("'=")


@pytest.mark.django_db
def test_large_export_is_written_in_parts_and_downloaded_whole(
    client_logged_in, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(exporting, "PART_ROWS", 1000)
    Profile.objects.bulk_create(Profile(email=f"user{i:05}@example.com") for i in range(4500))
    export = exporting.start_export({"sort": "email"}, by=None)
    export_profiles(export.pk)
    export.refresh_from_db()
    assert (export.status, export.total, export.processed) == (
        ProfileExport.Status.DONE,
        4500,
        4500,
    )
    assert ProfileExportPart.objects.filter(export=export).count() == 5

    url = reverse("profiles:export_download", args=[export.pk])
    with django_assert_max_num_queries(15):  # a query per part, never per row
        body = b"".join(client_logged_in.get(url).streaming_content)
    rows = parse(body)
    assert len(rows) == 4500
    assert rows[0]["email"] == "user00000@example.com"
    assert rows[-1]["email"] == "user04499@example.com"


@pytest.mark.django_db
def test_download_of_an_unfinished_export_is_a_clear_404(client_logged_in):
    export = ProfileExport.objects.create(status=ProfileExport.Status.RUNNING, total=10)
    response = client_logged_in.get(reverse("profiles:export_download", args=[export.pk]))
    assert response.status_code == 404
    page = client_logged_in.get(reverse("profiles:export_status", args=[export.pk]))
    assert b"data-progress-url" in page.content


@pytest.mark.django_db
def test_a_finished_export_is_not_run_again(client_logged_in):
    ProfileFactory(email="a@example.com")
    export = exporting.start_export({}, by=None)
    export_profiles(export.pk)
    ProfileFactory(email="b@example.com")
    export_profiles(export.pk)  # a redelivered task does nothing
    export_profiles(987654)  # nor does one for a deleted export
    body = client_logged_in.get(reverse("profiles:export_download", args=[export.pk]))
    assert [row["email"] for row in parse(b"".join(body.streaming_content))] == ["a@example.com"]


@pytest.mark.django_db
def test_list_export_button_carries_the_current_filters(client_logged_in):
    ProfileFactory(email="x@example.com")
    body = client_logged_in.get(reverse("profiles:list"), {"q": "x@", "status": "active"})
    assert f'{URL}?q=x%40&amp;status=active"' in body.content.decode()


@pytest.mark.django_db
def test_starting_an_export_removes_those_older_than_a_day():
    old = exporting.start_export({}, by=None)
    export_profiles(old.pk)
    ProfileExport.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - exporting.KEEP_EXPORTS_FOR - timedelta(minutes=1)
    )
    recent = exporting.start_export({}, by=None)
    assert list(ProfileExport.objects.all()) == [recent]
    assert not ProfileExportPart.objects.filter(export_id=old.pk).exists()


@pytest.mark.django_db
def test_beat_prunes_exports_older_than_a_day_every_hour(eager_celery):
    old = exporting.start_export({}, by=None)
    export_profiles(old.pk)
    ProfileExport.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - exporting.KEEP_EXPORTS_FOR - timedelta(minutes=1)
    )
    recent = ProfileExport.objects.create(filters={})
    schedule = celery_app.conf.beat_schedule["prune-profile-exports"]
    assert schedule["schedule"] == 3600.0

    celery_app.tasks[schedule["task"]].delay()  # as beat sends it; run eagerly here

    assert list(ProfileExport.objects.all()) == [recent]
    assert not ProfileExportPart.objects.filter(export_id=old.pk).exists()
