import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0010_soft_bounce_policy_never_by_default"),
        ("providers", "0002_port_range_and_audit_trail"),
    ]

    operations = [
        migrations.CreateModel(
            name="TestEmailEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("delivered", "Delivered"),
                            ("soft_bounce", "Soft bounce"),
                            ("hard_bounce", "Hard bounce"),
                            ("dropped", "Dropped"),
                            ("invalid", "Invalid"),
                            ("spam", "Spam"),
                            ("unsubscribed", "Unsubscribed"),
                            ("ignored", "Ignored (logged only)"),
                        ],
                        max_length=20,
                    ),
                ),
                ("occurred_at", models.DateTimeField()),
                ("description", models.TextField(blank=True)),
                ("received_at", models.DateTimeField()),
                (
                    "test_email",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="providers.testemail",
                    ),
                ),
            ],
            options={
                "ordering": ["occurred_at", "id"],
                "indexes": [
                    models.Index(
                        fields=["test_email", "occurred_at"], name="testemailevent_email_idx"
                    )
                ],
            },
        ),
    ]
