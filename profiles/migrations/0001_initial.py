"""Profiles, their timeline, imports and exports.

On PostgreSQL it also adds what the profile list needs at a million rows, and leaves room on
each profile page for callback updates:

- trigram GIN indexes (pg_trgm) answer substring search of email and name, matching the
  ORM's `icontains` SQL exactly: UPPER(col::text) LIKE UPPER('%term%'); if the extension
  cannot be created (no privilege) they are skipped with a warning and searches scan: ask the
  DBA to run CREATE EXTENSION pg_trgm, then create them by hand from `TRIGRAM_INDEXES`;
- a text_pattern_ops index answers the short-term prefix search of names (`istartswith`); the
  email prefix search uses the varchar_pattern_ops index Django creates for the unique column;
- a DESC NULLS LAST index answers "inactive since, newest first" with Active rows last;
- fillfactor 85: most callback updates touch unindexed columns (the soft-bounce counter and
  its window), and with free space on the page PostgreSQL writes them as heap-only tuples.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


import logging

from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

TABLE = "profiles_profile"
FILLFACTOR = 85
TRIGRAM_INDEXES = {
    "profile_email_trgm_idx": f"ON {TABLE} USING gin (UPPER(email::text) gin_trgm_ops)",
    "profile_name_trgm_idx": f"ON {TABLE} USING gin (UPPER(name::text) gin_trgm_ops)",
}
BTREE_INDEXES = {
    "profile_name_prefix_idx": f"ON {TABLE} (UPPER(name::text) text_pattern_ops)",
    "profile_inactive_recent_idx": f"ON {TABLE} (inactive_since DESC NULLS LAST, email)",
}


def tune_for_postgresql(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = {FILLFACTOR})")
    indexes = dict(BTREE_INDEXES)
    if _has_trigram_extension(schema_editor):
        indexes.update(TRIGRAM_INDEXES)
    for name, definition in indexes.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*TRIGRAM_INDEXES, *BTREE_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _has_trigram_extension(schema_editor) -> bool:
    try:
        with transaction.atomic(using=schema_editor.connection.alias):  # a savepoint
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        logger.warning(
            "Could not create the pg_trgm extension; profile search will not use trigram "
            "indexes. Run CREATE EXTENSION pg_trgm as a superuser, then create them."
        )
        return False
    return True


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Profile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.CharField(max_length=254, unique=True)),
                ('name', models.CharField(blank=True, max_length=200)),
                ('status', models.CharField(choices=[('active', 'Active'), ('inactive', 'Inactive')], default='active', max_length=10)),
                ('inactive_reason', models.CharField(blank=True, choices=[('hard_bounce', 'Hard bounce'), ('soft_bounce', 'Repeated soft bounces'), ('dropped', 'Dropped'), ('invalid', 'Invalid'), ('spam', 'Spam complaint'), ('unsubscribed', 'Unsubscribed'), ('manual', 'Manual')], max_length=20)),
                ('inactive_since', models.DateTimeField(blank=True, null=True)),
                ('inactive_provider', models.CharField(blank=True, help_text='Nickname of the provider behind the change.', max_length=100)),
                ('inactive_detail', models.TextField(blank=True, help_text="The ESP's diagnostic text.")),
                ('soft_bounce_count', models.PositiveIntegerField(default=0)),
                ('soft_bounce_since', models.DateTimeField(blank=True, null=True)),
                ('unsubscribed_categories', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['email'],
                'indexes': [models.Index(fields=['status', 'inactive_reason', 'email'], name='profile_status_idx'), models.Index(django.db.models.functions.text.Lower('name'), name='profile_name_lower_idx'), models.Index(fields=['-created_at'], name='profile_created_idx'), models.Index(fields=['inactive_since'], name='profile_inactive_since_idx')],
            },
        ),
        migrations.CreateModel(
            name='ProfileExport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('filters', models.JSONField(blank=True, default=dict, help_text="The list's q, status, reason, sort.")),
                ('status', models.CharField(choices=[('pending', 'Queued'), ('running', 'Exporting'), ('done', 'Ready'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('total', models.PositiveIntegerField(default=0, help_text='Profiles to export.')),
                ('processed', models.PositiveIntegerField(default=0, help_text='Profiles written so far.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ProfileImport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('filename', models.CharField(blank=True, max_length=255)),
                ('source', models.BinaryField(default=bytes)),
                ('status', models.CharField(choices=[('pending', 'Queued'), ('running', 'Importing'), ('done', 'Finished'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('total', models.PositiveIntegerField(default=0, help_text='Data rows in the file.')),
                ('processed', models.PositiveIntegerField(default=0, help_text='Data rows read so far.')),
                ('created_count', models.PositiveIntegerField(default=0)),
                ('updated_count', models.PositiveIntegerField(default=0)),
                ('unchanged_count', models.PositiveIntegerField(default=0, help_text='Lines naming a profile that already had that name.')),
                ('error_count', models.PositiveIntegerField(default=0)),
                ('errors', models.JSONField(blank=True, default=list, help_text='The first bad rows: [{line, message}].')),
                ('failure', models.TextField(blank=True, help_text='Why the whole file could not be imported.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ProfileExportPart',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('data', models.BinaryField()),
                ('export', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='parts', to='profiles.profileexport')),
            ],
            options={
                'ordering': ['export', 'number'],
                'constraints': [models.UniqueConstraint(fields=('export', 'number'), name='one_export_part_number')],
            },
        ),
        migrations.CreateModel(
            name='TimelineEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('notification_delivered', 'Notification Delivered'), ('notification_failed', 'Notification Failed'), ('channel_unsubscribed', 'Channel Unsubscribed'), ('channel_resubscribed', 'Channel Resubscribed'), ('preferences_updated', 'Preferences Updated')], max_length=30)),
                ('occurred_at', models.DateTimeField()),
                ('provider_name', models.CharField(blank=True, max_length=100)),
                ('properties', models.JSONField(blank=True, default=dict, help_text='Event properties: Error, Type, reason, meta.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('profile', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='timeline', to='profiles.profile')),
            ],
            options={
                'ordering': ['-occurred_at', '-id'],
                'indexes': [models.Index(fields=['profile', '-occurred_at', '-id'], name='timeline_profile_idx')],
            },
        ),
        migrations.RunPython(tune_for_postgresql, untune),
    ]
