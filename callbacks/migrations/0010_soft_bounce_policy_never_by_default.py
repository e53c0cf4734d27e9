"""Soft bounces never make an address Inactive unless an admin opted in (seeds 002, 003).

The policy row used to be created with "3 within 14 days" by the first callback that needed
it. From now on the row exists only once an admin saved a policy, so a row still holding those
automatic values is removed: such an installation gets the documented default, "never". A row
with any other values was an admin's choice and is kept.
"""

from django.db import migrations, models

OLD_DEFAULT = {"threshold": 3, "window_days": 14}


def forget_the_automatic_default(apps, schema_editor):
    SoftBouncePolicy = apps.get_model("callbacks", "SoftBouncePolicy")
    SoftBouncePolicy.objects.filter(**OLD_DEFAULT).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0009_pending_body"),
    ]

    operations = [
        migrations.AlterField(
            model_name="softbouncepolicy",
            name="threshold",
            field=models.PositiveSmallIntegerField(
                blank=True,
                default=None,
                help_text="Soft bounces that make an address Inactive; empty means never.",
                null=True,
            ),
        ),
        migrations.RunPython(forget_the_automatic_default, migrations.RunPython.noop),
    ]
