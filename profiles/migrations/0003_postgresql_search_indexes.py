"""PostgreSQL-only indexes for the profile list at a million rows.

- trigram GIN indexes (pg_trgm) answer substring search of email and name, matching the
  ORM's `icontains` SQL exactly: UPPER(col::text) LIKE UPPER('%term%');
- a text_pattern_ops index answers the short-term prefix search of names
  (`istartswith`); the email prefix search uses the varchar_pattern_ops index that Django
  creates for the unique email column;
- a DESC NULLS LAST index answers "inactive since, newest first" with Active rows last.

Built CONCURRENTLY (hence atomic = False) so a live table is not locked. On any other
database this migration does nothing; searches still work there, just without these indexes.
If the pg_trgm extension cannot be created (no privilege), the trigram indexes are skipped
with a warning and searches fall back to a scan: ask the DBA to run CREATE EXTENSION pg_trgm,
then re-run this migration (migrate profiles 0002 && migrate profiles).
"""

import logging

from django.db import DatabaseError, migrations

logger = logging.getLogger(__name__)

TABLE = "profiles_profile"

TRIGRAM_INDEXES = {
    "profile_email_trgm_idx": f"ON {TABLE} USING gin (UPPER(email::text) gin_trgm_ops)",
    "profile_name_trgm_idx": f"ON {TABLE} USING gin (UPPER(name::text) gin_trgm_ops)",
}
BTREE_INDEXES = {
    "profile_name_prefix_idx": f"ON {TABLE} (UPPER(name::text) text_pattern_ops)",
    "profile_inactive_recent_idx": f"ON {TABLE} (inactive_since DESC NULLS LAST, email)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    indexes = dict(BTREE_INDEXES)
    if _has_trigram_extension(schema_editor):
        indexes.update(TRIGRAM_INDEXES)
    for name, definition in indexes.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*TRIGRAM_INDEXES, *BTREE_INDEXES]:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def _has_trigram_extension(schema_editor) -> bool:
    try:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        logger.warning(
            "Could not create the pg_trgm extension; profile search will not use trigram "
            "indexes. Run CREATE EXTENSION pg_trgm as a superuser and re-run this migration."
        )
        return False
    return True


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("profiles", "0002_profile_import"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
