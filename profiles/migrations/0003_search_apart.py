"""The profile search indexes move to their own table, `profiles_profilesearch`.

A callback that makes a profile Inactive changes indexed columns (status, inactive_since), so
its update is not heap-only and adds an entry to every index of the profile table. The two
trigram GIN indexes and the name prefix index were a third of that work per status change
(measured with EXPLAIN (ANALYZE, BUFFERS, WAL) on the worker's UPDATE; see
docs/performance.md) for columns no callback changes. On PostgreSQL they now index a narrow
copy of each profile's email and name, which triggers keep in step: a statement-level trigger
with a transition table copies inserted profiles in one statement (bulk SQL, COPY and imports
included), a row trigger follows changes of email or name (never part of a callback's UPDATE,
so it is not even considered there), a statement-level trigger deletes with the profile.
SQLite keeps searching the profile table; its copy stays empty.
"""

import django.db.models.deletion
from django.db import migrations, models

PROFILE = "profiles_profile"
SEARCH = "profiles_profilesearch"
MOVED = {
    "profile_email_trgm_idx": "USING gin (UPPER(email::text) gin_trgm_ops)",
    "profile_name_trgm_idx": "USING gin (UPPER(name::text) gin_trgm_ops)",
    "profile_name_prefix_idx": "(UPPER(name::text) text_pattern_ops)",
}
# The short search's email prefix: Django's varchar_pattern_ops index stays on the profile
# for its unique email, and the search table needs its own.
SEARCH_ONLY = {"profile_search_email_like": "(email varchar_pattern_ops)"}
TRIGRAM = {"profile_email_trgm_idx", "profile_name_trgm_idx"}

TRIGGERS = f"""
CREATE FUNCTION profiles_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {SEARCH} (profile_id, email, name) SELECT id, email, name FROM inserted;
    RETURN NULL;
END $$;
CREATE TRIGGER profiles_search_insert AFTER INSERT ON {PROFILE}
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION profiles_search_insert();

CREATE FUNCTION profiles_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {SEARCH} SET email = NEW.email, name = NEW.name WHERE profile_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER profiles_search_update AFTER UPDATE OF email, name ON {PROFILE}
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION profiles_search_update();

CREATE FUNCTION profiles_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {SEARCH} AS s USING deleted WHERE s.profile_id = deleted.id;
    RETURN NULL;
END $$;
CREATE TRIGGER profiles_search_delete AFTER DELETE ON {PROFILE}
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION profiles_search_delete();
"""
DROP_TRIGGERS = f"""
DROP TRIGGER IF EXISTS profiles_search_insert ON {PROFILE};
DROP TRIGGER IF EXISTS profiles_search_update ON {PROFILE};
DROP TRIGGER IF EXISTS profiles_search_delete ON {PROFILE};
DROP FUNCTION IF EXISTS profiles_search_insert();
DROP FUNCTION IF EXISTS profiles_search_update();
DROP FUNCTION IF EXISTS profiles_search_delete();
"""


def _has_trigram_extension(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return cursor.fetchone() is not None


def move_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    trigram = _has_trigram_extension(schema_editor)
    schema_editor.execute(
        f"INSERT INTO {SEARCH} (profile_id, email, name) SELECT id, email, name FROM {PROFILE}"
    )
    for name, definition in {**MOVED, **SEARCH_ONLY}.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        if trigram or name not in TRIGRAM:
            schema_editor.execute(f"CREATE INDEX {name} ON {SEARCH} {definition}")
    schema_editor.execute(TRIGGERS)
    schema_editor.execute(f"ANALYZE {SEARCH}")


def put_them_back(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_TRIGGERS)
    trigram = _has_trigram_extension(schema_editor)
    for name, definition in {**MOVED, **SEARCH_ONLY}.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        if name in MOVED and (trigram or name not in TRIGRAM):
            schema_editor.execute(f"CREATE INDEX {name} ON {PROFILE} {definition}")


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0002_partition_timeline"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProfileSearch",
            fields=[
                (
                    "profile",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="profiles.profile",
                    ),
                ),
                ("email", models.CharField(max_length=254)),
                ("name", models.CharField(blank=True, max_length=200)),
            ],
        ),
        migrations.RunPython(move_search_indexes, put_them_back),
    ]
