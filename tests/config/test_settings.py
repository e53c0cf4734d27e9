"""Settings come from the environment; production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables the test run itself sets (the browser tests relax Django's async check).
TEST_ONLY_ENV = {"DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL"}
PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://postdesk@db.internal:5432/postdesk",
    "ALLOWED_HOSTS": "postdesk.example.com",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=",
    "SITE_URL": "https://postdesk.example.com",
}


def load_settings(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.DATABASES['default']['ENGINE'], settings.DEBUG, settings.ALLOWED_HOSTS)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION_ENV, *TEST_ONLY_ENV}}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_each_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = load_settings("config.settings.production", env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_starts_with_its_secrets():
    result = load_settings("config.settings.production", PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "False",
        "['postdesk.example.com']",
    ]


def test_local_default_needs_no_services():
    result = load_settings("config.settings.local", {})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("django.db.backends.sqlite3 True")


def check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION_ENV, *TEST_ONLY_ENV}}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings.production")
    env["SECRET_KEY"] = "a-long-random-production-secret-key-0123456789-abcdefghijklmnop"
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_production_passes_the_deploy_checklist():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("site_url", "check_id"),
    [
        ("postdesk.example.com", "config.E001"),
        ("http://postdesk.example.com", "config.W001"),
        ("https://elsewhere.example.com", "config.E002"),
    ],
)
def test_the_deploy_checklist_fails_on_a_site_url_esps_cannot_use(site_url, check_id):
    result = check_deploy(SITE_URL=site_url)
    assert result.returncode != 0
    assert check_id in result.stderr


def database_options(env: dict[str, str]) -> str:
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION_ENV, *TEST_ONLY_ENV}}
    clean.update(PRODUCTION_ENV, **env, DJANGO_SETTINGS_MODULE="config.settings.production")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    "env, threshold",
    [
        ({}, "5"),
        ({"DISABLE_SERVER_SIDE_CURSORS": "true"}, "None"),  # a transaction-mode pooler
        ({"DISABLE_SERVER_SIDE_CURSORS": "true", "PREPARED_STATEMENTS": "true"}, "5"),
        ({"PREPARED_STATEMENTS": "false"}, "None"),
    ],
)
def test_bulk_statements_are_prepared_unless_a_pooler_cannot_keep_them(env, threshold):
    assert database_options(env) == threshold
