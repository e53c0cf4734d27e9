import re
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client_logged_in):
    response = client_logged_in.get(reverse("providers:list"))
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy)[1]
    assert script_src.strip() == "'self'"
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_template_has_an_inline_script():
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in INLINE_SCRIPT.finditer(path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_sign_in_is_paused_after_repeated_wrong_passwords(client):
    UserFactory(username="marketer")
    for _ in range(3):
        client.post(reverse("login"), {"username": "marketer", "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": "marketer", "password": "correct-horse-battery"}
    )
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_other_accounts_are_not_paused(client):
    UserFactory(username="marketer")
    UserFactory(username="colleague")
    for _ in range(3):
        client.post(reverse("login"), {"username": "marketer", "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": "colleague", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
