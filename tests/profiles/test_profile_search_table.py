"""`ProfileSearch` follows every writer of profiles (PostgreSQL triggers), and search finds
what it holds."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from callbacks import services
from callbacks.formats import named
from profiles import state_sql
from profiles.listing import filtered_profiles
from profiles.models import Profile, ProfileSearch
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the search table is kept on PostgreSQL only"
    ),
]


def copies() -> dict[str, str]:
    return dict(ProfileSearch.objects.values_list("email", "name"))


def found(term: str) -> list[str]:
    return list(filtered_profiles({"q": term}).values_list("email", flat=True))


def test_profiles_created_renamed_and_deleted_are_searched_as_they_are_now():
    ada = Profile.objects.create(email="ada@example.com", name="Ada Lovelace")
    Profile.objects.create(email="alan@example.com", name="Alan Turing")
    assert copies() == {"ada@example.com": "Ada Lovelace", "alan@example.com": "Alan Turing"}
    assert found("lovelace") == ["ada@example.com"]

    ada.name = "Countess of Lovelace"
    ada.email = "countess@example.com"
    ada.save()
    assert found("countess") == ["countess@example.com"]
    assert found("ad") == []  # neither the old email nor the old name

    ada.delete()
    assert copies() == {"alan@example.com": "Alan Turing"}
    assert found("tu") == []  # a prefix of the name, not of a word inside it
    assert found("al") == ["alan@example.com"]


def test_profiles_a_callback_creates_in_bulk_are_searchable():
    assert state_sql.upsert_profiles(["new1@example.com", "new2@example.com"], datetime.now(UTC))
    assert set(copies()) == {"new1@example.com", "new2@example.com"}
    assert found("new2") == ["new2@example.com"]


def test_a_status_change_leaves_the_search_row_as_it_was():
    provider = EmailProviderFactory(kind=EmailProvider.Kind.SENDGRID)
    Profile.objects.create(email="bounce@example.com", name="Bo")
    before = row_version("bounce@example.com")

    body = b'[{"event": "bounce", "type": "bounce", "email": "bounce@example.com", "timestamp": 1700000000, "sg_event_id": "x1"}]'  # noqa: E501
    services.apply_events(provider, named("sendgrid").parse(body))

    assert Profile.objects.get().status == Profile.Status.INACTIVE
    assert row_version("bounce@example.com") == before  # not rewritten: no index entry added


def row_version(email: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM profiles_profilesearch WHERE email = %s", [email])
        return cursor.fetchone()[0]
