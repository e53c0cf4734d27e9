"""Nothing sensitive is cached: signed-in pages, the admin and CSV exports send no-store."""

import pytest
from django.test import Client
from django.urls import reverse

from profiles.models import Profile, ProfileExport
from providers.models import TestEmail
from tests.factories import EmailProviderFactory, ProfileFactory, UserFactory
from tests.security.test_access import url_for
from tests.url_walk import dashboard_urls

pytestmark = pytest.mark.django_db


def stores_nothing(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives


@pytest.fixture
def walked():
    provider = EmailProviderFactory(nickname="Walked")
    return {
        "provider": provider,
        "test_email": TestEmail.objects.create(provider=provider, recipient="qa@acme.test"),
        "profile": ProfileFactory(email="walked@acme.test", status=Profile.Status.ACTIVE),
    }


@pytest.fixture
def staff():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_signed_in_page_sends_no_store(staff, walked):
    pages = [url_for(name, list(converters), walked) for name, converters in dashboard_urls()]
    pages.append(reverse("login"))  # signed in: a redirect, still not stored
    responses = {url: staff.get(url) for url in pages}
    cached = [(url, r.status_code) for url, r in responses.items() if not stores_nothing(r)]
    assert cached == []


def test_the_csv_export_sends_no_store(staff, walked):
    export = ProfileExport.objects.create(status=ProfileExport.Status.DONE, total=0)
    response = staff.get(reverse("profiles:export_download", args=[export.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert stores_nothing(response)


@pytest.mark.parametrize(
    "url_name", ["admin:index", "admin:providers_emailprovider_changelist", "admin:auth_user_add"]
)
def test_admin_pages_send_no_store(staff, url_name):
    response = staff.get(reverse(url_name))
    assert response.status_code == 200
    assert stores_nothing(response)


def test_the_admin_sign_in_page_sends_no_store_before_sign_in(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert stores_nothing(response)
