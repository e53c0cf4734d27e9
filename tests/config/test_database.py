import os

import pytest
from django.db import connection


@pytest.mark.skipif("DATABASE_URL" not in os.environ, reason="runs only where DATABASE_URL is set")
@pytest.mark.django_db
def test_suite_runs_on_the_configured_database():
    expected = "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else None
    if expected:
        assert connection.vendor == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepared statements")
@pytest.mark.django_db
def test_a_bulk_statement_run_again_and_again_is_prepared_and_its_plan_kept():
    from common.bulk_sql import bound_cursor

    with bound_cursor() as cursor:
        for _ in range(20):
            cursor.execute("SELECT count(*) FROM unnest(%b::bigint[])", [[1, 2, 3]])
        cursor.execute(
            "SELECT generic_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT count(*) FROM unnest(%%'"
        )
        [(generic_plans,)] = cursor.fetchall()
    assert generic_plans > 0  # PostgreSQL stopped planning it for each run
