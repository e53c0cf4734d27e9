"""Every dashboard page refuses anonymous users; only the documented public URLs are open."""

import pytest
from django.urls import reverse
from django.urls.converters import IntConverter

from tests.url_walk import dashboard_urls

SAMPLE_ARGS = {"kind": "smtp"}


def sample_url(name, converters):
    kwargs = {}
    for key, converter in converters.items():
        kwargs[key] = SAMPLE_ARGS.get(key, 1 if isinstance(converter, IntConverter) else "x1")
    return reverse(name, kwargs=kwargs)


DASHBOARD_URLS = dashboard_urls()


def test_every_app_has_dashboard_pages():
    namespaces = {name.split(":")[0] for name, _ in DASHBOARD_URLS}
    assert {"providers", "profiles", "callbacks"} <= namespaces


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "converters"), DASHBOARD_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_user_is_sent_to_login(client, name, converters, method):
    url = sample_url(name, converters)
    response = getattr(client, method)(url)
    assert response.status_code in (302, 405), f"{name} answered {response.status_code}"
    if response.status_code == 302:
        assert response.url.startswith(reverse("login")) or "/admin/login/" in response.url


@pytest.mark.django_db
def test_admin_requires_staff_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


@pytest.mark.django_db
def test_signed_in_user_reaches_the_provider_list(client_logged_in):
    response = client_logged_in.get(reverse("providers:list"))
    assert response.status_code == 200
    assert b"Providers" in response.content
