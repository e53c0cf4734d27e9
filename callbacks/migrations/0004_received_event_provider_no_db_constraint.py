"""Received-event keys no longer carry a database foreign key to their provider (see the model)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0003_drop_redundant_fk_index'),
        ('providers', '0002_port_range_and_audit_trail'),
    ]

    operations = [
        migrations.AlterField(
            model_name='receivedevent',
            name='provider',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='providers.emailprovider'),
        ),
    ]
