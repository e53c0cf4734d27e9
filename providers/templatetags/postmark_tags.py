from django import template

from providers.forms.postmark import WEBHOOK_HEADER, WEBHOOK_USERNAME, webhook_url_with_credentials
from providers.models import EmailProvider

register = template.Library()


@register.inclusion_tag("providers/kinds/_postmark_webhook.html")
def postmark_webhook(provider: EmailProvider) -> dict:
    """The webhook URL with its basic-auth pair and the secret header, once they exist."""
    if not provider.webhook_secret_encrypted:
        return {"ready": False}
    return {
        "ready": True,
        "url": webhook_url_with_credentials(provider),
        "username": WEBHOOK_USERNAME,
        "password": provider.webhook_secret,
        "header": WEBHOOK_HEADER,
    }
