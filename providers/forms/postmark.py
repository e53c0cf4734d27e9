"""The Postmark provider form, and the webhook credentials Postdesk generates for Postmark.

Postmark does not sign its webhooks (reference part 2, §3.2), so Postdesk generates a password
per provider and asks for it twice in every webhook request: as the basic-auth password of the
webhook URL and in the `WEBHOOK_HEADER` custom header. The password is stored encrypted as the
provider's webhook secret.
"""

import secrets
from urllib.parse import quote, urlsplit, urlunsplit

from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import ProviderForm

WEBHOOK_USERNAME = "postdesk"
WEBHOOK_HEADER = "X-Postdesk-Webhook-Secret"


def new_webhook_password() -> str:
    """192 random bits, URL-safe, so it fits in a URL's userinfo unescaped."""
    return secrets.token_urlsafe(24)


def webhook_url_with_credentials(provider: EmailProvider) -> str:
    """The callback URL with the basic-auth pair in it, as Postmark's webhook form takes it."""
    parts = urlsplit(provider.callback_url)
    userinfo = f"{WEBHOOK_USERNAME}:{quote(provider.webhook_secret, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


class PostmarkProviderForm(ProviderForm):
    kind = EmailProvider.Kind.POSTMARK
    secret_label = "Server API token"
    secret_help = (
        "In Postmark, open your server, then API Tokens, and copy the Server API token "
        "(not the Account API token)."
    )

    class Meta(ProviderForm.Meta):
        fields = [*ProviderForm.Meta.fields, "message_stream"]
        labels = {**ProviderForm.Meta.labels, "message_stream": "Message stream"}
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "message_stream": (
                "The ID of the message stream to send through, as Postmark shows it under "
                "Message Streams. Leave blank for the default transactional stream, “outbound”."
            ),
        }

    field_order = ["nickname", "secret", "message_stream"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if any(ch.isspace() for ch in secret):
            raise ValidationError(
                "A server token has no spaces. Copy it again from Postmark.", code="bad_api_key"
            )
        return secret

    def clean_message_stream(self) -> str:
        stream = self.cleaned_data.get("message_stream", "").strip()
        if stream and not all(ch.isalnum() or ch in "-_" for ch in stream):
            raise ValidationError(
                "A message stream ID has only letters, digits, hyphens and underscores, "
                "such as “outbound” or “broadcast”.",
                code="bad_message_stream",
            )
        return stream

    def apply_kind(self, provider: EmailProvider) -> None:
        super().apply_kind(provider)
        if not provider.webhook_secret_encrypted:
            provider.set_webhook_secret(new_webhook_password())
