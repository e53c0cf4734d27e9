import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile
from tests.factories import ProfileFactory

URL = reverse("profiles:export")


def exported_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db
def test_export_needs_login(client):
    assert client.get(URL).status_code == 302


@pytest.mark.django_db
def test_export_streams_every_profile_as_csv(client_logged_in):
    ProfileFactory(email="b@example.com", name="Bee")
    ProfileFactory(
        email="a@example.com",
        name="Ay",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.SPAM,
        inactive_since=timezone.now(),
        inactive_provider="Netcore",
    )
    response = client_logged_in.get(URL)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = exported_rows(response)
    assert [row["email"] for row in rows] == ["a@example.com", "b@example.com"]
    assert rows[0]["status"] == "inactive"
    assert rows[0]["inactive_reason"] == "spam"
    assert rows[0]["inactive_provider"] == "Netcore"
    assert rows[0]["inactive_since"]
    assert rows[1]["inactive_since"] == ""


@pytest.mark.django_db
def test_export_honours_search_filters_and_sort(client_logged_in):
    ProfileFactory(email="keep1@example.com", name="Zed")
    ProfileFactory(email="keep2@example.com", name="Abe")
    ProfileFactory(email="other@example.com", name="Keeper")
    ProfileFactory(
        email="keep3@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.HARD_BOUNCE,
    )
    rows = exported_rows(
        client_logged_in.get(URL, {"q": "keep", "status": "active", "sort": "name"})
    )
    assert [row["email"] for row in rows] == [
        "keep2@example.com",
        "other@example.com",
        "keep1@example.com",
    ]


@pytest.mark.django_db
def test_export_neutralises_spreadsheet_formulas(client_logged_in):
    ProfileFactory(email="x@example.com", name='=HYPERLINK("http://evil")')
    rows = exported_rows(client_logged_in.get(URL))
    assert rows[0]["name"].startswith("'=")


@pytest.mark.django_db
def test_list_export_button_carries_the_current_filters(client_logged_in):
    ProfileFactory(email="x@example.com")
    body = client_logged_in.get(reverse("profiles:list"), {"q": "x@", "status": "active"})
    assert f'{URL}?q=x%40&amp;status=active"' in body.content.decode()
