"""Nobody let in: staff-only pages refuse marketers, every form needs its CSRF token, production
cookies and headers are locked down, and the callback token is checked in constant time.

Anonymous access to every URL is walked in tests/config/test_login_required.py, and the
headers and sign-in rate limit of the default settings in test_security_headers.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from profiles.models import Profile
from providers import models as provider_models
from providers.models import EmailProvider, TestEmail
from tests.config.test_settings import PRODUCTION_ENV, TEST_ONLY_ENV
from tests.factories import EmailProviderFactory, ProfileFactory, UserFactory
from tests.url_walk import dashboard_urls

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# The pages only admins may use (DESIGN.md: rotate the callback URL; the soft-bounce policy and
# re-activating a suppressed address are admin decisions too).
STAFF_ONLY = {
    "providers:rotate_callback",
    "callbacks:policy",
    "profiles:reactivate",
    "deliverability:thresholds",
}
NOT_POSTED = {"providers:delete"}  # posting it would delete the provider the walk uses


DASHBOARD = [(name, sorted(converters)) for name, converters in dashboard_urls()]


@pytest.fixture
def objects():
    provider = EmailProviderFactory(nickname="Walked")
    other = EmailProviderFactory(nickname="Other")
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")
    profile = ProfileFactory(
        email="gone@acme.test", status=Profile.Status.INACTIVE, inactive_reason="hard_bounce"
    )
    return {"provider": provider, "other": other, "test_email": test_email, "profile": profile}


def url_for(name: str, converters: list[str], objects) -> str:
    if not converters:
        return reverse(name)
    if converters == ["kind"]:
        return reverse(name, kwargs={"kind": "smtp"})
    assert converters == ["pk"], f"{name}: teach this test the converters {converters}"
    if "test_email" in name:
        pk = objects["test_email"].pk
    elif name.startswith("profiles:"):
        pk = objects["profile"].pk
    else:
        pk = objects["provider"].pk
    return reverse(name, kwargs={"pk": pk})


def refused(response) -> bool:
    if response.status_code == 403:
        return True
    return response.status_code == 302 and (
        response.url.startswith(reverse("login")) or "/admin/login/" in response.url
    )


# --- staff-only pages -------------------------------------------------------------------------
def test_exactly_the_admin_pages_refuse_a_signed_in_marketer(objects):
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    refusing = set()
    for name, converters in DASHBOARD:
        url = url_for(name, converters, objects)
        answers = [client.get(url)]
        if name not in NOT_POSTED:
            answers.append(client.post(url))
        assert all(answer.status_code != 500 for answer in answers), name
        if any(refused(answer) for answer in answers):
            refusing.add(name)
    assert refusing == STAFF_ONLY
    objects["provider"].refresh_from_db()
    assert Profile.objects.get(pk=objects["profile"].pk).status == Profile.Status.INACTIVE


def test_a_marketer_refused_an_admin_page_is_told_why_on_a_page_of_ours(objects):
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    for name, converters in DASHBOARD:
        if name in STAFF_ONLY:
            response = client.get(url_for(name, converters, objects))
            assert response.status_code == 403, name
            page = response.content.decode()
            assert "Only" in page and "admin" in page, name
            assert "Back to the providers" in page, name


def test_admins_reach_the_admin_pages(objects):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for name, converters in DASHBOARD:
        if name in STAFF_ONLY:
            url = url_for(name, converters, objects)
            response = client.get(url)
            assert not refused(response), name
            assert response.status_code in (200, 405), name


def test_rotate_by_a_marketer_keeps_the_callback_url(objects):
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    provider = objects["provider"]
    token = provider.callback_token
    response = client.post(reverse("providers:rotate_callback", args=[provider.pk]))
    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.callback_token == token


def test_the_admin_site_refuses_signed_in_marketers(objects):
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url, url


# --- CSRF ----------------------------------------------------------------------------------------
def test_every_dashboard_form_refuses_a_post_without_its_csrf_token(objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    provider = objects["provider"]
    token, default = provider.callback_token, EmailProvider.objects.default()
    for name, converters in DASHBOARD:
        response = client.post(url_for(name, converters, objects), {"recipient": "x@acme.test"})
        assert response.status_code == 403, f"{name} accepted a POST without a CSRF token"
        assert b"CSRF" in response.content
    provider.refresh_from_db()
    assert provider.callback_token == token
    assert EmailProvider.objects.default() == default
    assert EmailProvider.objects.count() == 2
    assert TestEmail.objects.count() == 1


def test_sign_in_and_the_admin_need_their_csrf_token(objects):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:providers_emailprovider_change", args=[objects["provider"].pk]),
        {"nickname": "Renamed"},
    )
    assert response.status_code == 403
    assert EmailProvider.objects.filter(nickname="Renamed").count() == 0


def test_the_callback_url_and_one_click_unsubscribe_stay_csrf_exempt(objects):
    from profiles import preference_links

    client = Client(enforce_csrf_checks=True)
    provider = objects["provider"]
    response = client.post(provider.callback_path, data=b"[]", content_type="application/json")
    assert response.status_code == 200
    url = preference_links.one_click_unsubscribe_url("reader@acme.test")
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code in (200, 204), response.status_code
    assert Profile.objects.get(email="reader@acme.test").status == Profile.Status.INACTIVE


# --- production settings --------------------------------------------------------------------
PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.test import Client, override_settings
# No collectstatic here: plain static storage instead of the manifest, nothing else changed.
plain = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=plain):
    client = Client()
    https = client.get("/login/", secure=True)
    http = client.get("/login/")
print(json.dumps({
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "DEBUG": settings.DEBUG,
    "https_status": https.status_code,
    "https_headers": dict(https.headers),
    "csrf_cookie_secure": bool(https.cookies["csrftoken"]["secure"]),
    "http_status": http.status_code,
    "http_location": http.headers.get("Location", ""),
}))
"""


@pytest.fixture(scope="module")
def production():
    env = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION_ENV, *TEST_ONLY_ENV}}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings.production")
    env["ALLOWED_HOSTS"] = "testserver"
    env["DATABASE_URL"] = "sqlite:///:memory:"  # the sign-in page needs no database
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure(production):
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["csrf_cookie_secure"] is True
    assert production["DEBUG"] is False


def test_production_redirects_to_https_and_sends_hsts(production):
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["http_status"] == 301
    assert production["http_location"].startswith("https://")
    headers = {k.lower(): v for k, v in production["https_headers"].items()}
    assert production["https_status"] == 200
    assert "max-age=31536000" in headers["strict-transport-security"]
    assert "includeSubDomains" in headers["strict-transport-security"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    script_src = policy.split("script-src", 1)[1].split(";", 1)[0]
    assert script_src.strip() == "'self'"  # no inline script
    assert "frame-ancestors 'none'" in policy


# --- the callback token -------------------------------------------------------------------------
def test_unknown_and_rotated_tokens_get_the_same_404(objects):
    client = Client()
    provider = objects["provider"]
    old_path = provider.callback_path
    provider.rotate_callback_token()
    unknown = client.post(
        "/callbacks/" + "A" * 43 + "/", data=b"[]", content_type="application/json"
    )
    rotated = client.post(old_path, data=b"[]", content_type="application/json")
    assert unknown.status_code == rotated.status_code == 404
    assert unknown.content == rotated.content
    assert json.loads(rotated.content) == {
        "status": "error",
        "message": "Not found",
        "error_code": 404,
    }
    current = client.post(provider.callback_path, data=b"[]", content_type="application/json")
    assert current.status_code == 200


def test_the_token_is_confirmed_in_constant_time(objects, monkeypatch):
    """The database finds the row; hmac.compare_digest has the last word on the whole token."""
    provider = objects["provider"]
    calls = []

    def refuse(stored, given):
        calls.append((stored, given))
        return False

    monkeypatch.setattr(provider_models.hmac, "compare_digest", refuse)
    response = Client().post(provider.callback_path, data=b"[]", content_type="application/json")

    assert response.status_code == 404  # the comparison decides, not only the query
    token = provider.callback_token.encode()
    assert calls == [(token, token)]
