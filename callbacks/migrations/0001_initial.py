"""Callbacks: the log, the inbox, de-duplication keys, stats, the soft-bounce policy, test-email
events and bounce mailboxes.

On PostgreSQL an inbox body is compressed with lz4 where the server has it (a 1000-event
SendGrid body of 282 kB is stored in 116 kB in the time pglz, the default, takes for a third
of it), else stored uncompressed: a batch is written once, read once within seconds, then
deleted.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


COMPRESS_BODIES = """
DO $$
BEGIN
    ALTER TABLE callbacks_pendingbatch ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE callbacks_pendingbatch ALTER COLUMN body SET STORAGE EXTERNAL;
END $$;
"""


def store_bodies_for_speed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COMPRESS_BODIES)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('providers', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='CallbackLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received_at', models.DateTimeField(auto_now_add=True)),
                ('method', models.CharField(default='POST', max_length=10)),
                ('payload_format', models.CharField(blank=True, max_length=30)),
                ('status_code', models.PositiveSmallIntegerField()),
                ('events_total', models.PositiveIntegerField(default=0)),
                ('processed', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('duplicates', models.PositiveIntegerField(default=0)),
                ('ignored', models.PositiveIntegerField(default=0)),
                ('kind_counts', models.JSONField(blank=True, default=dict, help_text='New events of this request per kind.')),
                ('error', models.TextField(blank=True)),
                ('body_excerpt', models.TextField(blank=True)),
                ('is_sample', models.BooleanField(default=False)),
                ('applied_at', models.DateTimeField(blank=True, help_text='When the events were applied (when answered, if none were accepted); empty while they wait.', null=True)),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='callback_logs', to='providers.emailprovider')),
            ],
            options={
                'ordering': ['-received_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='InboxWakeup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
        ),
        migrations.CreateModel(
            name='SoftBouncePolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('threshold', models.PositiveSmallIntegerField(blank=True, default=None, help_text='Soft bounces that make an address Inactive; empty means never.', null=True)),
                ('window_days', models.PositiveSmallIntegerField(default=14)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name_plural': 'soft bounce policy',
            },
        ),
        migrations.CreateModel(
            name='BounceMailbox',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('enabled', models.BooleanField(default=True)),
                ('host', models.CharField(max_length=253)),
                ('port', models.PositiveIntegerField(default=993, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(65535)])),
                ('tls', models.CharField(choices=[('implicit', 'Implicit TLS (IMAPS)'), ('starttls', 'STARTTLS')], default='implicit', max_length=10)),
                ('username', models.CharField(max_length=254)),
                ('password_encrypted', models.TextField(blank=True, editable=False)),
                ('folder', models.CharField(default='INBOX', max_length=200)),
                ('processed_action', models.CharField(choices=[('mark_read', 'Mark as read'), ('move', 'Move to a folder'), ('delete', 'Delete')], default='mark_read', max_length=10)),
                ('move_to_folder', models.CharField(blank=True, max_length=200)),
                ('uid_validity', models.BigIntegerField(blank=True, editable=False, null=True)),
                ('last_uid', models.BigIntegerField(default=0, editable=False)),
                ('polls', models.PositiveIntegerField(default=0, editable=False)),
                ('last_poll_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('messages_read', models.PositiveIntegerField(default=0, editable=False)),
                ('bounces_found', models.PositiveIntegerField(default=0, editable=False)),
                ('complaints_found', models.PositiveIntegerField(default=0, editable=False)),
                ('unreadable_messages', models.PositiveIntegerField(default=0, editable=False)),
                ('last_error', models.TextField(blank=True, editable=False)),
                ('failures', models.PositiveSmallIntegerField(default=0, editable=False)),
                ('next_poll_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('lease_expires_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('provider', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='bounce_mailbox', to='providers.emailprovider')),
            ],
        ),
        migrations.CreateModel(
            name='DailyStat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField()),
                ('delivered', models.PositiveIntegerField(default=0)),
                ('soft_bounce', models.PositiveIntegerField(default=0)),
                ('hard_bounce', models.PositiveIntegerField(default=0)),
                ('dropped', models.PositiveIntegerField(default=0)),
                ('invalid', models.PositiveIntegerField(default=0)),
                ('spam', models.PositiveIntegerField(default=0)),
                ('unsubscribed', models.PositiveIntegerField(default=0)),
                ('ignored', models.PositiveIntegerField(default=0)),
                ('duplicates', models.PositiveIntegerField(default=0)),
                ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='daily_stats', to='providers.emailprovider')),
            ],
            options={
                'ordering': ['-date'],
            },
        ),
        migrations.CreateModel(
            name='ReceivedEvent',
            fields=[
                ('pk', models.CompositePrimaryKey('provider', 'event_key', blank=True, editable=False, primary_key=True, serialize=False)),
                ('event_key', models.BinaryField(max_length=24)),
                ('received_at', models.DateTimeField(auto_now_add=True)),
                ('provider', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='providers.emailprovider')),
            ],
        ),
        migrations.CreateModel(
            name='TestEmailEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('delivered', 'Delivered'), ('soft_bounce', 'Soft bounce'), ('hard_bounce', 'Hard bounce'), ('dropped', 'Dropped'), ('invalid', 'Invalid'), ('spam', 'Spam'), ('unsubscribed', 'Unsubscribed'), ('ignored', 'Ignored (logged only)')], max_length=20)),
                ('occurred_at', models.DateTimeField()),
                ('description', models.TextField(blank=True)),
                ('received_at', models.DateTimeField()),
                ('test_email', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='providers.testemail')),
            ],
            options={
                'ordering': ['occurred_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='PendingBatch',
            fields=[
                ('log', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='pending', serialize=False, to='callbacks.callbacklog')),
                ('body', models.BinaryField(help_text='The body the ESP posted, checked; a worker parses it to apply it.')),
                ('attempts', models.PositiveSmallIntegerField(default=0, help_text='Failed attempts so far.')),
                ('retry_at', models.DateTimeField(default=django.utils.timezone.now, help_text='Not applied before this time.')),
                ('last_error', models.TextField(blank=True)),
            ],
            options={
                'verbose_name_plural': 'pending batches',
                'indexes': [models.Index(fields=['retry_at'], name='pendingbatch_retry_at_idx')],
            },
        ),
        migrations.AddIndex(
            model_name='callbacklog',
            index=models.Index(fields=['provider', '-received_at'], name='callbacklog_provider_idx'),
        ),
        migrations.AddIndex(
            model_name='dailystat',
            index=models.Index(fields=['date'], name='dailystat_date_idx'),
        ),
        migrations.AddConstraint(
            model_name='dailystat',
            constraint=models.UniqueConstraint(fields=('provider', 'date'), name='one_stat_per_provider_day'),
        ),
        migrations.AddIndex(
            model_name='testemailevent',
            index=models.Index(fields=['test_email', 'occurred_at'], name='testemailevent_email_idx'),
        ),
        migrations.RunPython(store_bodies_for_speed, migrations.RunPython.noop),
    ]
