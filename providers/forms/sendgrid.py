"""The SendGrid provider form, and the one loader of SendGrid's webhook verification key."""

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django import forms
from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import ProviderForm


def load_verification_key(key_text: str) -> ec.EllipticCurvePublicKey | None:
    """SendGrid's signed-webhook key (base64 of a DER public key; PEM armour and line breaks
    tolerated) as an elliptic-curve key, or None when it is not one."""
    armour_free = re.sub(r"-----(BEGIN|END) PUBLIC KEY-----", "", key_text)
    try:
        key = load_der_public_key(base64.b64decode("".join(armour_free.split()), validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def validate_sendgrid_verification_key(value: str) -> None:
    """The key must be a P-256 public key, as SendGrid issues them."""
    if not value:
        return
    key = load_verification_key(value)
    if key is None or key.curve.name != "secp256r1":
        raise ValidationError(
            "Paste the verification key exactly as SendGrid shows it (one line of base64, "
            "starting with MFkw).",
            code="bad_verification_key",
        )


class SendGridProviderForm(ProviderForm):
    kind = EmailProvider.Kind.SENDGRID
    secret_label = "API Key"
    secret_help = (
        "Create one in SendGrid under Settings > API Keys with “Mail Send” access. "
        "It starts with SG."
    )

    class Meta(ProviderForm.Meta):
        fields = [*ProviderForm.Meta.fields, "webhook_verification_key"]
        labels = {
            **ProviderForm.Meta.labels,
            "webhook_verification_key": "Event webhook verification key",
        }
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "webhook_verification_key": (
                "Optional. If you turn on Signed Event Webhook in SendGrid, paste its "
                "verification key so Postdesk rejects events SendGrid did not sign."
            ),
        }
        widgets = {
            **ProviderForm.Meta.widgets,
            "webhook_verification_key": forms.Textarea(attrs={"rows": 2}),
        }

    field_order = ["nickname", "secret"]

    def clean_webhook_verification_key(self) -> str:
        # Accept the key pasted across lines; validate what is left.
        key = "".join(self.cleaned_data.get("webhook_verification_key", "").split())
        validate_sendgrid_verification_key(key)
        return key

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret and not secret.startswith("SG."):
            raise ValidationError(
                "SendGrid API keys start with “SG.”. Copy the whole key from SendGrid.",
                code="bad_api_key",
            )
        return secret
