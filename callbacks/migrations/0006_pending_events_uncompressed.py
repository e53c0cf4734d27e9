"""Store a pending batch's events uncompressed (PostgreSQL only).

A batch is written once and read once within seconds, then deleted: compressing its ~200 kB
of JSON (pglz, the default) cost the answering request more than writing it plainly.
"""

from django.db import migrations


def store_uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE callbacks_pendingbatch ALTER COLUMN events SET STORAGE EXTERNAL"
    )


def store_compressed(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE callbacks_pendingbatch ALTER COLUMN events SET STORAGE EXTENDED"
    )


class Migration(migrations.Migration):
    dependencies = [("callbacks", "0005_callback_inbox")]

    operations = [migrations.RunPython(store_uncompressed, store_compressed)]
