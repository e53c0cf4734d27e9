"""Timeline rows no longer carry a database foreign key to their profile (see the model)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('profiles', '0005_profile_fillfactor'),
    ]

    operations = [
        migrations.AlterField(
            model_name='timelineevent',
            name='profile',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='timeline', to='profiles.profile'),
        ),
    ]
