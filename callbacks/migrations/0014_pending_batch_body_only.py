from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0013_bounce_mailbox"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="pendingbatch",
            name="events",
        ),
        migrations.AlterField(
            model_name="pendingbatch",
            name="body",
            field=models.BinaryField(
                help_text="The body the ESP posted, checked; a worker parses it to apply it."
            ),
        ),
    ]
