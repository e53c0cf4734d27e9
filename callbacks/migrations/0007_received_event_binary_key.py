"""Received-event keys become binary and the primary key: one index entry of 24 bytes per event.

A new table replaces the old one, so the keys are converted as they are copied: the text key
"YYYYMMDDHHMMSS~<sha256 hex>" (or "~<hex>" for an event without a time) becomes the time as
eight big-endian bytes of seconds since the epoch (the largest value when there is none),
then the first sixteen bytes of the digest — what `dedupe.stored_key` now computes, so an
event received before the upgrade is still recognised when it is replayed after it.

Migrating back keeps no keys: the old form needs the whole digest, which the new one drops.
"""

import calendar
import time

import django.db.models.deletion
from django.db import migrations, models

UNKNOWN_TIME = 2**63 - 1

POSTGRESQL_COPY = r"""
INSERT INTO callbacks_receivedeventkey (provider_id, event_key, received_at)
SELECT provider_id,
       CASE WHEN event_key LIKE '~%%' THEN int8send(%s)
            ELSE int8send(extract(epoch FROM to_timestamp(left(event_key, 14), 'YYYYMMDDHH24MISS')
                                  ::timestamp AT TIME ZONE 'UTC')::bigint)
       END || decode(substr(event_key, strpos(event_key, '~') + 1, 32), 'hex'),
       received_at
FROM callbacks_receivedevent
ON CONFLICT DO NOTHING
"""


def binary_key(text_key: str) -> bytes:
    stamp, _, digest = text_key.partition("~")
    if stamp:
        seconds = calendar.timegm(time.strptime(stamp, "%Y%m%d%H%M%S"))
    else:
        seconds = UNKNOWN_TIME
    return seconds.to_bytes(8, "big", signed=True) + bytes.fromhex(digest[:32])


def copy_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_COPY, [UNKNOWN_TIME])
        return
    old = apps.get_model("callbacks", "ReceivedEvent")
    new = apps.get_model("callbacks", "ReceivedEventKey")
    rows = old.objects.values_list("provider_id", "event_key", "received_at").iterator(10_000)
    new.objects.bulk_create(
        (
            new(provider_id=provider_id, event_key=binary_key(key), received_at=received_at)
            for provider_id, key, received_at in rows
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0006_pending_events_uncompressed"),
        ("providers", "0002_port_range_and_audit_trail"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReceivedEventKey",
            fields=[
                ("pk", models.CompositePrimaryKey("provider", "event_key", blank=True, editable=False, primary_key=True, serialize=False)),
                ("event_key", models.BinaryField(max_length=24)),
                ("received_at", models.DateTimeField(auto_now_add=True)),
                (
                    "provider",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="providers.emailprovider",
                    ),
                ),
            ],
        ),
        migrations.RunPython(copy_keys, migrations.RunPython.noop),
        migrations.DeleteModel(name="ReceivedEvent"),
        migrations.RenameModel(old_name="ReceivedEventKey", new_name="ReceivedEvent"),
    ]
