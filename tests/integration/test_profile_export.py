"""The profile export through real HTTP: the page queues it, a real Celery worker on Redis
writes it, the browser-less client polls and downloads it over a socket."""

import csv
import io
import re
import time

import httpx
import pytest
from django.conf import settings
from django.test import Client

from profiles import exporting
from profiles.models import Profile, ProfileExport
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker thread must see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]

PROFILES = 5000


def signed_in_http(live_server) -> httpx.Client:
    """An HTTP client carrying a signed-in session cookie."""
    client = Client()
    client.force_login(UserFactory())
    cookies = {"sessionid": client.cookies["sessionid"].value}
    return httpx.Client(base_url=live_server.url, cookies=cookies, timeout=30)


def test_a_large_export_is_built_by_the_worker_and_downloaded_over_http(
    live_server, celery_worker, monkeypatch
):
    monkeypatch.setattr(exporting, "PART_ROWS", 1000)  # the worker runs in this process
    Profile.objects.bulk_create(
        Profile(email=f"person{i:05}@example.com", name=f"Person {i}") for i in range(PROFILES)
    )
    with signed_in_http(live_server) as http:
        page = http.get("/profiles/export/", params={"sort": "-email"})
        assert page.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        started = http.post(
            "/profiles/export/",
            data={
                "csrfmiddlewaretoken": token,
                "sort": "-email",
                "q": "",
                "status": "",
                "reason": "",
            },
            headers={"Referer": live_server.url + "/profiles/export/"},
        )
        assert started.status_code == 302
        status_url = started.headers["Location"]
        export = ProfileExport.objects.get()
        assert status_url == f"/profiles/export/{export.pk}/"

        deadline = time.monotonic() + 60
        while not (progress := http.get(f"{status_url}progress/").json())["finished"]:
            assert time.monotonic() < deadline, f"export still {progress['status']}"
            time.sleep(0.1)
        assert progress["status"] == "done"
        assert progress["processed"] == progress["total"] == PROFILES

        with http.stream("GET", f"{status_url}download/") as download:
            assert download.status_code == 200
            assert download.headers["Content-Type"].startswith("text/csv")
            body = download.read()

    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == PROFILES
    assert rows[0]["email"] == f"person{PROFILES - 1:05}@example.com"
    assert rows[-1]["email"] == "person00000@example.com"
