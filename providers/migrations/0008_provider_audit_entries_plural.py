from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0007_api_esp_account_settings"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="providerauditentry",
            options={
                "verbose_name": "provider audit entry",
                "verbose_name_plural": "provider audit entries",
            },
        ),
    ]
