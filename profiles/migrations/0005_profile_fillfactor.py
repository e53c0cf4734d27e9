"""Leave room on each profile page for the callback service's updates (PostgreSQL only).

Most callback updates touch unindexed columns (the soft-bounce counter and its window). With
free space on the page PostgreSQL writes them as heap-only tuples: no new entry in any of the
profile's indexes. Existing pages get the room as they are rewritten (VACUUM FULL, or a
restore); new rows get it at once.
"""

from django.db import migrations

FILLFACTOR = 85


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE profiles_profile SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE profiles_profile RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("profiles", "0004_drop_redundant_fk_index")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
