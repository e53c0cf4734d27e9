import os

import pytest
from django.db import connection


@pytest.mark.skipif("DATABASE_URL" not in os.environ, reason="runs only where DATABASE_URL is set")
@pytest.mark.django_db
def test_suite_runs_on_the_configured_database():
    expected = "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else None
    if expected:
        assert connection.vendor == expected
