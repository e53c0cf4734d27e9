"""Importing a CSV with bad lines and downloading an export, through a real Celery worker."""

import re
from pathlib import Path

from playwright.sync_api import expect

from profiles.models import Profile

BAD_FILE = b"\n".join(
    [
        b"email,name",
        b"ann@example.com,Ann",
        b"nul@example.com,Bad\x00name",
        "zoe@example.com,Zoë".encode("latin-1"),
        b"not an email,Nobody",
        b"ANN@example.com,Ann again",
        b"bob@example.com,Bob",
        b"",
    ]
)


def test_import_with_bad_lines_reports_them_and_imports_the_rest(
    signed_in_page, live_server, celery_worker, screenshot
):
    page = signed_in_page
    page.goto(live_server.url + "/profiles/import/")
    page.get_by_label("CSV file").set_input_files(
        {"name": "people.csv", "mimeType": "text/csv", "buffer": BAD_FILE}
    )
    page.get_by_role("button", name="Upload and import").click()

    expect(page.get_by_role("heading", name="Bad lines")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Finished", exact=True)).to_be_visible()
    table = page.get_by_role("table")
    for line in ("3", "4", "5", "6"):
        expect(table.get_by_role("cell", name=line, exact=True)).to_be_visible()
    expect(table).to_contain_text("NUL byte")
    expect(table).to_contain_text("not UTF-8")
    expect(table).to_contain_text("“not an email” is not a valid email address.")
    expect(table).to_contain_text("already on line 2")
    expect(page.locator('[data-field="created"]')).to_have_text("2")
    expect(page.locator('[data-field="errors"]')).to_have_text("4")
    screenshot(page, "profile-import-bad-lines")
    assert sorted(Profile.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "bob@example.com",
    ]


def test_export_is_built_in_the_background_and_downloaded(
    signed_in_page, live_server, celery_worker, screenshot
):
    Profile.objects.bulk_create(Profile(email=f"p{i:03}@example.com") for i in range(250))
    page = signed_in_page
    page.goto(live_server.url + "/profiles/?status=active")
    page.get_by_role("link", name="Export CSV").click()
    expect(page.get_by_text("with status Active")).to_be_visible()
    page.get_by_role("button", name="Build the CSV file").click()

    download_link = page.get_by_role("link", name=re.compile(r"^Download profiles-"))
    expect(download_link).to_be_visible(timeout=20_000)
    expect(page.locator('[data-field="processed"]')).to_have_text("250")
    screenshot(page, "profile-export-ready")
    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert re.fullmatch(r"profiles-\d{8}-\d{4}\.csv", download.suggested_filename)
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("email,name,status")
    assert len(lines) == 251
    assert lines[1].startswith("p000@example.com,,active")
