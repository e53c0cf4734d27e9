"""A callback event's properties get a column each; the JSON column keeps the others.

Callbacks insert a thousand timeline events a batch, and building each one's JSON in the
database took a third of that insert. New callback events fill the columns; every other event,
and every callback event stored before, keeps its properties in the JSON column, which the
model now calls `extra` (`TimelineEvent.properties` reads both). Adding nullable columns
rewrites no row, partitions included.
"""

from django.db import migrations, models


def column(**kwargs):
    return models.TextField(null=True, blank=True, **kwargs)


class Migration(migrations.Migration):
    dependencies = [("profiles", "0004_email_collate_c")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("timelineevent", "properties", "extra"),
                migrations.AlterField(
                    model_name="timelineevent",
                    name="extra",
                    field=models.JSONField(
                        blank=True,
                        db_column="properties",
                        default=dict,
                        help_text="Properties not held in a column of their own.",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            "timelineevent",
            "provider_type",
            models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddField("timelineevent", "esp_event", column()),
        migrations.AddField("timelineevent", "meta", column()),
        migrations.AddField("timelineevent", "event_id", column()),
        migrations.AddField("timelineevent", "error", column()),
        migrations.AddField("timelineevent", "unsubscribe_type", column()),
        migrations.AddField("timelineevent", "reason", column()),
    ]
