"""The PostgreSQL-only indexes of the initial migration, and that the list's queries use them."""

import pytest
from django.db import connection, transaction

from profiles.listing import filtered_profiles
from tests.factories import ProfileFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the search indexes exist only on PostgreSQL"
)


def plan_without_seqscan(queryset, *, bitmap_only: bool = False) -> str:
    """The plan PostgreSQL picks when it may not read the whole table (as on a large table).

    With `bitmap_only`, walking a whole sort index is ruled out too, so that the plan shows
    which index answers the WHERE clause whatever the (tiny) test table's statistics say.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if bitmap_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_indexonlyscan = off")
        return queryset.explain()


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_the_migrations_created_the_indexes():
    assert "profile_inactive_recent_idx" in index_names("profiles_profile")
    assert {
        "profile_email_trgm_idx",
        "profile_name_trgm_idx",
        "profile_name_prefix_idx",
        "profile_search_email_like",
    } <= index_names("profiles_profilesearch")


@pytest.mark.django_db
def test_no_search_index_is_on_the_profile_table_that_callbacks_update():
    """A status change is not a heap-only update: it adds an entry to every profile index."""
    assert not {name for name in index_names("profiles_profile") if "trgm" in name}
    assert "profile_name_prefix_idx" not in index_names("profiles_profile")


@pytest.mark.django_db
def test_substring_search_uses_the_trigram_indexes():
    plan = plan_without_seqscan(
        filtered_profiles({"q": "garcia", "sort": "-created"})[:51], bitmap_only=True
    )
    assert "profile_email_trgm_idx" in plan
    assert "profile_name_trgm_idx" in plan


@pytest.mark.django_db
def test_whole_address_search_uses_the_unique_index():
    ProfileFactory(email="ada@example.org")
    queryset = filtered_profiles({"q": "ada@example.org"})
    plan = plan_without_seqscan(queryset[:51])
    # The unique constraint's index or Django's pattern index on email: one btree lookup.
    assert "Index Cond: ((email)::text = 'ada@example.org'::text)" in plan
    assert "trgm" not in plan


@pytest.mark.django_db
def test_short_search_uses_the_prefix_indexes():
    plan = plan_without_seqscan(
        filtered_profiles({"q": "ga", "sort": "-created"})[:51], bitmap_only=True
    )
    assert "profile_name_prefix_idx" in plan
    assert "email" in plan and "_like" in plan  # Django's varchar_pattern_ops index


@pytest.mark.django_db
def test_newest_inactive_first_uses_its_index():
    plan = plan_without_seqscan(filtered_profiles({"sort": "-inactive_since"})[:51])
    assert "profile_inactive_recent_idx" in plan


@pytest.mark.django_db
def test_addresses_compare_byte_by_byte():
    """No locale collation in the unique index that callbacks probe a thousand times a batch."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = 'profiles_profile'::regclass AND a.attname = 'email'"
        )
        assert cursor.fetchone()[0] == "C"


@pytest.mark.django_db
def test_profile_pages_keep_room_for_heap_only_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'profiles_profile'")
        assert cursor.fetchone()[0] == ["fillfactor=85"]
