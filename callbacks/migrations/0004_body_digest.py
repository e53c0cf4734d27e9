"""Each applied request's log keeps its body's digest, so a copy an ESP posts again is known
by it (`callbacks.replays`)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('callbacks', '0003_log_provider_index_once'),
        ('providers', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='callbacklog',
            name='body_digest',
            field=models.BinaryField(help_text='Of the body, once applied in full: a copy the ESP posts again is known by it.', null=True),
        ),
        migrations.AddIndex(
            model_name='callbacklog',
            index=models.Index(condition=models.Q(('body_digest__isnull', False)), fields=['provider', 'body_digest'], name='callbacklog_body_idx'),
        ),
    ]
