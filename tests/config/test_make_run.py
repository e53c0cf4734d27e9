"""`make run` serves on $PORT, and every link it generates points there."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDER = """#!/bin/sh
echo "$(basename "$0") SITE_URL=$SITE_URL $*" >> "$RECORD"
"""
LINKS = (
    "import django; django.setup(); "
    "from providers.models import EmailProvider; "
    "from profiles.preference_links import one_click_unsubscribe_url; "
    "print(EmailProvider(callback_token='T').callback_url); "
    "print(one_click_unsubscribe_url('ada@example.org'))"
)


def make_run(tmp_path: Path, **env: str) -> list[str]:
    """Run `make run` with python and honcho replaced by recorders; what each was asked."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("python", "honcho"):
        (venv / "bin" / tool).write_text(RECORDER)
        (venv / "bin" / tool).chmod(0o755)
    (venv / ".installed").touch()  # newer than pyproject.toml: nothing to install
    record = tmp_path / "record"
    clean = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    clean.update(env, RECORD=str(record))
    subprocess.run(
        ["make", "--no-print-directory", "run", f"VENV={venv}"],
        cwd=ROOT,
        env=clean,
        check=True,
        capture_output=True,
    )
    return record.read_text().splitlines()


def links_with(site_url: str) -> list[str]:
    """The callback URL and List-Unsubscribe link the product makes with this SITE_URL."""
    env = {**os.environ, "SITE_URL": site_url, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    result = subprocess.run(
        [sys.executable, "-c", LINKS], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("port", ["8311", "8000"])
def test_make_run_derives_the_site_url_from_its_port(tmp_path, port):
    migrate, bootstrap, honcho = make_run(tmp_path, PORT=port)
    assert migrate.endswith("manage.py migrate --noinput")
    assert bootstrap.endswith(f"bootstrap_demo --url http://127.0.0.1:{port}/")
    assert honcho == (f"honcho SITE_URL=http://127.0.0.1:{port} start -f Procfile.dev -p {port}")
    callback_url, unsubscribe_url = links_with(f"http://127.0.0.1:{port}")
    assert callback_url == f"http://127.0.0.1:{port}/callbacks/T/"
    assert unsubscribe_url.startswith(f"http://127.0.0.1:{port}/profiles/")


def test_make_run_keeps_a_site_url_given_to_it(tmp_path):
    *_, honcho = make_run(tmp_path, PORT="8311", SITE_URL="https://demo.tunnel.example")
    assert "SITE_URL=https://demo.tunnel.example start" in honcho
