"""Netcore's "Unsubscribe Page" is now its preference center choice: move stored pages there."""

from django.db import migrations


def move_unsubscribe_pages(apps, schema_editor):
    EmailProvider = apps.get_model("providers", "EmailProvider")
    netcore = EmailProvider.objects.filter(kind="netcore").exclude(unsubscribe_page_url="")
    for provider in netcore.only("pk", "unsubscribe_page_url"):
        EmailProvider.objects.filter(pk=provider.pk).update(
            preference_center="custom",
            preference_center_url=provider.unsubscribe_page_url,
            unsubscribe_page_url="",
        )


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_secret_destination_and_plaintext_auth")]

    operations = [migrations.RunPython(move_unsubscribe_pages, migrations.RunPython.noop)]
