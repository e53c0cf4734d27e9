"""The callback inbox: accepted batches wait in PendingBatch; logs say when they were applied."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def mark_earlier_logs_applied(apps, schema_editor):
    """Before the inbox every batch was applied while its request was answered."""
    CallbackLog = apps.get_model("callbacks", "CallbackLog")
    CallbackLog.objects.update(applied_at=models.F("received_at"))


def refuse_while_batches_wait(apps, schema_editor):
    """Going back drops the inbox: not while it holds accepted events."""
    waiting = apps.get_model("callbacks", "PendingBatch").objects.count()
    if waiting:
        raise RuntimeError(
            f"{waiting} callback batches are still waiting to be applied; "
            "run a worker until the inbox is empty, then migrate back."
        )


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0004_received_event_provider_no_db_constraint'),
    ]

    operations = [
        migrations.CreateModel(
            name='PendingBatch',
            fields=[
                ('log', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='pending', serialize=False, to='callbacks.callbacklog')),
                ('events', models.TextField(help_text='The parsed events, encoded by callbacks.inbox.')),
                ('attempts', models.PositiveSmallIntegerField(default=0, help_text='Failed attempts so far.')),
                ('retry_at', models.DateTimeField(default=django.utils.timezone.now, help_text='Not applied before this time.')),
                ('last_error', models.TextField(blank=True)),
            ],
            options={
                'verbose_name_plural': 'pending batches',
            },
        ),
        migrations.AddField(
            model_name='callbacklog',
            name='applied_at',
            field=models.DateTimeField(blank=True, help_text='When the events were applied (when answered, if none were accepted); empty while they wait.', null=True),
        ),
        migrations.RunPython(mark_earlier_logs_applied, refuse_while_batches_wait),
    ]
