"""On PostgreSQL, profile addresses compare byte by byte (COLLATE "C").

Addresses are stored folded to lower case and only ever compared for equality or sorted for
lists and lock order, for which byte order is codepoint order. Under the database's locale
(C.UTF-8 or en_US.UTF-8) every comparison in the unique index went through the C library's
locale collation: callback workers look up a thousand addresses a batch, and byte comparison
made applying about 6% faster (docs/performance.md). The column's type stays; its indexes are
rebuilt. SQLite has no such collation and needs none.
"""

from django.db import migrations

TABLE = "profiles_profile"
# The search copy's update trigger (migration 0003) names the column: it is set aside while the
# column changes.
SEARCH_UPDATE_TRIGGER = f"""
CREATE TRIGGER profiles_search_update AFTER UPDATE OF email, name ON {TABLE}
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION profiles_search_update();
"""


def compare_bytes(apps, schema_editor):
    _set_email_collation(schema_editor, '"C"')


def compare_by_locale(apps, schema_editor):
    _set_email_collation(schema_editor, "pg_catalog.default")


def _set_email_collation(schema_editor, collation: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER profiles_search_update ON {TABLE}")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ALTER COLUMN email TYPE varchar(254) COLLATE {collation}"
    )
    schema_editor.execute(SEARCH_UPDATE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("profiles", "0003_search_apart")]

    operations = [migrations.RunPython(compare_bytes, compare_by_locale)]
