"""The Mailgun provider form: sending domain, region, API key and webhook signing key."""

import re

from django import forms
from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import ProviderForm

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
REGIONS = [("us", "US (api.mailgun.net)"), ("eu", "EU (api.eu.mailgun.net)")]


class MailgunProviderForm(ProviderForm):
    kind = EmailProvider.Kind.MAILGUN
    secret_label = "API Key"
    secret_help = (
        "In Mailgun, open API Security (or your domain's Sending Keys) and create a key. "
        "A domain sending key is enough to send; Test connection needs the account API key."
    )

    region = forms.ChoiceField(
        label="Region",
        choices=REGIONS,
        initial="us",
        help_text="Where the domain was created in Mailgun; a domain of the EU region is "
        "only found at api.eu.mailgun.net.",
    )
    webhook_signing_key = forms.CharField(
        label="HTTP webhook signing key",
        strip=True,
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="In Mailgun, open Webhooks and copy the HTTP webhook signing key (not the "
        "API key). Postdesk refuses callbacks it does not sign.",
    )

    class Meta(ProviderForm.Meta):
        fields = ["nickname", "sending_domain", "region", *ProviderForm.Meta.fields[1:]]
        labels = {**ProviderForm.Meta.labels, "sending_domain": "Sending domain"}
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "sending_domain": "The domain you send from, exactly as Mailgun lists it under "
            "Sending > Domains (mg.example.com).",
        }

    field_order = ["nickname", "sending_domain", "region", "secret", "webhook_signing_key"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sending_domain"].required = True
        key_field = self.fields["webhook_signing_key"]
        key_field.required = not self.instance.webhook_secret_encrypted
        if self.instance.webhook_secret_encrypted:
            key_field.help_text += " Leave blank to keep the stored key."

    def clean_sending_domain(self) -> str:
        domain = self.cleaned_data.get("sending_domain", "").strip().lower().removesuffix(".")
        if not DOMAIN.match(domain):
            raise ValidationError(
                "Enter the domain alone, like mg.example.com (no https:// and no address).",
                code="bad_domain",
            )
        return domain

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if any(ch.isspace() for ch in secret):
            raise ValidationError("An API key has no spaces. Copy it again from Mailgun.")
        return secret

    def save(self, commit: bool = True) -> EmailProvider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("webhook_signing_key"):
            provider.set_webhook_secret(self.cleaned_data["webhook_signing_key"])
        if commit:
            provider.save()
        return provider
