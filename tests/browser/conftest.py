"""Journeys in Debian's Chromium, driven by Playwright, against pytest-django's live_server."""

import os
from pathlib import Path

import pytest

from tests.factories import UserFactory
from tests.servers import celery_worker, smtp_server, tls_ca  # noqa: F401  (fixtures)

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", "test-artifacts")).resolve()
SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def marketer(transactional_db):
    return UserFactory(
        username="marketer", email="marketer@example.com", is_staff=True, is_superuser=True
    )


@pytest.fixture
def signed_in_page(page, live_server, marketer):
    """A page signed in through the login form, as a person would."""
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(marketer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings/email/providers/")
    return page


@pytest.fixture
def screenshot():
    """Save a full-page screenshot of the current page under test-artifacts/screenshots/."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        failures = ARTIFACTS / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(failures / f"{item.name}.png"), full_page=True)
        except Exception as exc:  # the page may already be gone; the failure matters more
            report.sections.append(("screenshot", f"could not save a screenshot: {exc}"))
