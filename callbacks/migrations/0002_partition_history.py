"""Partition de-duplication keys and callback logs by day on PostgreSQL (`callbacks.partitioning`).

Each table is renamed aside, recreated partitioned under its own name (raw SQL elsewhere keeps
working), given its DEFAULT partition and the partitions of its kept days and the coming ones,
then filled from the old table. The log's primary key becomes (id, received_at), as a
partitioned table's must include the partition column, and its ids come from a sequence
(PostgreSQL 15 has no identity columns on partitioned tables). On SQLite the tables stay plain.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

RECEIVED_EVENTS = """
ALTER TABLE callbacks_receivedevent RENAME TO callbacks_receivedevent_old;
ALTER INDEX callbacks_receivedevent_pkey RENAME TO callbacks_receivedevent_old_pkey;
CREATE TABLE callbacks_receivedevent (
    event_key bytea NOT NULL,
    received_at timestamp with time zone NOT NULL,
    provider_id bigint NOT NULL,
    CONSTRAINT callbacks_receivedevent_pkey PRIMARY KEY (provider_id, event_key)
) PARTITION BY RANGE (event_key);
CREATE TABLE callbacks_receivedevent_default PARTITION OF callbacks_receivedevent DEFAULT;
"""

CALLBACK_LOGS = """
ALTER TABLE callbacks_callbacklog RENAME TO callbacks_callbacklog_old;
ALTER INDEX callbacks_callbacklog_pkey RENAME TO callbacks_callbacklog_old_pkey;
ALTER INDEX callbacklog_provider_idx RENAME TO callbacklog_provider_old_idx;
ALTER INDEX callbacks_callbacklog_provider_id_d44409d6 RENAME TO callbacklog_provider_id_old_idx;
CREATE TABLE callbacks_callbacklog (
    id bigint NOT NULL,
    received_at timestamp with time zone NOT NULL,
    method character varying(10) NOT NULL,
    payload_format character varying(30) NOT NULL,
    status_code smallint NOT NULL CONSTRAINT callbacks_callbacklog_status_code_check
        CHECK (status_code >= 0),
    events_total integer NOT NULL CONSTRAINT callbacks_callbacklog_events_total_check
        CHECK (events_total >= 0),
    processed integer NOT NULL CONSTRAINT callbacks_callbacklog_processed_check
        CHECK (processed >= 0),
    failed integer NOT NULL CONSTRAINT callbacks_callbacklog_failed_check CHECK (failed >= 0),
    duplicates integer NOT NULL CONSTRAINT callbacks_callbacklog_duplicates_check
        CHECK (duplicates >= 0),
    ignored integer NOT NULL CONSTRAINT callbacks_callbacklog_ignored_check CHECK (ignored >= 0),
    kind_counts jsonb NOT NULL,
    error text NOT NULL,
    body_excerpt text NOT NULL,
    is_sample boolean NOT NULL,
    applied_at timestamp with time zone,
    provider_id bigint NOT NULL
        CONSTRAINT callbacks_callbacklo_provider_id_d44409d6_fk_providers
        REFERENCES providers_emailprovider (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT callbacks_callbacklog_pkey PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX callbacklog_provider_idx ON callbacks_callbacklog (provider_id, received_at DESC);
CREATE INDEX callbacks_callbacklog_provider_id_d44409d6 ON callbacks_callbacklog (provider_id);
CREATE TABLE callbacks_callbacklog_default PARTITION OF callbacks_callbacklog DEFAULT;
"""

COPY = """
INSERT INTO callbacks_receivedevent (event_key, received_at, provider_id)
    SELECT event_key, received_at, provider_id FROM callbacks_receivedevent_old;
DROP TABLE callbacks_receivedevent_old;
INSERT INTO callbacks_callbacklog SELECT * FROM callbacks_callbacklog_old;
DROP TABLE callbacks_callbacklog_old;
CREATE SEQUENCE callbacks_callbacklog_id_seq OWNED BY callbacks_callbacklog.id;
SELECT setval('callbacks_callbacklog_id_seq', COALESCE(MAX(id), 0) + 1, false)
    FROM callbacks_callbacklog;
ALTER TABLE callbacks_callbacklog
    ALTER COLUMN id SET DEFAULT nextval('callbacks_callbacklog_id_seq');
"""


def partition_tables(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from callbacks import partitioning

    schema_editor.execute(RECEIVED_EVENTS)
    schema_editor.execute(CALLBACK_LOGS)
    partitioning.ensure_partitions(timezone.now())
    schema_editor.execute(COPY)


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pendingbatch",
            name="log",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="pending",
                serialize=False,
                to="callbacks.callbacklog",
            ),
        ),
        migrations.RunPython(partition_tables),
    ]
