"""The callback log keeps one index on its provider: (provider, -received_at), which every lookup
by provider uses. Dropping the plain one drops it on every day partition too."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0002_partition_history'),
        ('providers', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='callbacklog',
            name='provider',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='callback_logs', to='providers.emailprovider'),
        ),
    ]
