"""The Netcore Email provider form."""

from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import ProviderForm


class NetcoreProviderForm(ProviderForm):
    kind = EmailProvider.Kind.NETCORE
    secret_label = "API Key"
    secret_help = (
        "Find it in Netcore Email under Settings > Integrations > API. Keys are case-sensitive."
    )

    class Meta(ProviderForm.Meta):
        # Netcore's documents call the preference center choice its "Unsubscribe Page".
        labels = {
            **ProviderForm.Meta.labels,
            "preference_center": "Unsubscribe Page",
            "preference_center_url": "Unsubscribe page URL",
        }
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "preference_center": (
                "Where recipients unsubscribe: none, Postdesk's preference center, or your own "
                "unsubscribe page (Custom URL)."
            ),
            "preference_center_url": "The web address of your own unsubscribe page.",
        }

    field_order = ["nickname", "secret"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if any(ch.isspace() for ch in secret):
            raise ValidationError("An API key has no spaces. Copy it again from Netcore.")
        return secret
