"""Partition the profile timeline on PostgreSQL (`profiles.retention`).

LIST (kind): "Notification Delivered" events in a partition of their own, itself partitioned by
RANGE (created_at) into days so expired deliveries go by dropping a day; every other kind in
the DEFAULT list partition, kept as long as the profile. The table is renamed aside, recreated
under its own name and filled from the old one.

No database primary key: on a partitioned table it would have to include kind and created_at,
a wider index written for every event, and ids already come unique from their sequence. A
plain index on id keeps the admin's newest-first list and lookups by id fast. Ids come from a
sequence (PostgreSQL 15 has no identity columns on partitioned tables). On SQLite the table
stays plain.
"""

from django.db import migrations
from django.utils import timezone

TIMELINE = """
ALTER TABLE profiles_timelineevent RENAME TO profiles_timelineevent_old;
ALTER INDEX profiles_timelineevent_pkey RENAME TO profiles_timelineevent_old_pkey;
ALTER INDEX timeline_profile_idx RENAME TO timeline_profile_old_idx;
CREATE TABLE profiles_timelineevent (
    id bigint NOT NULL,
    kind character varying(30) NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    provider_name character varying(100) NOT NULL,
    properties jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL,
    profile_id bigint NOT NULL
) PARTITION BY LIST (kind);
CREATE INDEX timeline_profile_idx ON profiles_timelineevent (profile_id, occurred_at DESC, id DESC);
CREATE INDEX timeline_id_idx ON profiles_timelineevent (id);
CREATE TABLE profiles_timelineevent_delivered PARTITION OF profiles_timelineevent
    FOR VALUES IN ('notification_delivered') PARTITION BY RANGE (created_at);
CREATE TABLE profiles_timelineevent_delivered_default
    PARTITION OF profiles_timelineevent_delivered DEFAULT;
CREATE TABLE profiles_timelineevent_other PARTITION OF profiles_timelineevent DEFAULT;
"""

COPY = """
INSERT INTO profiles_timelineevent
        (id, kind, occurred_at, provider_name, properties, created_at, profile_id)
    SELECT id, kind, occurred_at, provider_name, properties, created_at, profile_id
    FROM profiles_timelineevent_old;
DROP TABLE profiles_timelineevent_old;
CREATE SEQUENCE profiles_timelineevent_id_seq OWNED BY profiles_timelineevent.id;
SELECT setval('profiles_timelineevent_id_seq', COALESCE(MAX(id), 0) + 1, false)
    FROM profiles_timelineevent;
ALTER TABLE profiles_timelineevent
    ALTER COLUMN id SET DEFAULT nextval('profiles_timelineevent_id_seq');
"""


def partition_timeline(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from profiles import retention

    schema_editor.execute(TIMELINE)
    retention.ensure_partitions(timezone.now())
    schema_editor.execute(COPY)


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_initial"),
    ]

    operations = [migrations.RunPython(partition_timeline)]
