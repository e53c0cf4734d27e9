"""The Gmail provider form, and the Gmail preset (seed 002, reference §4): Gmail is SMTP
to smtp.gmail.com, port 465, SMTPS, with the account address and an app password.
"""

import re

from django import forms
from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import PREFERENCE_FIELDS, SENDER_FIELDS, ProviderForm

GMAIL_PRESET = {"host": "smtp.gmail.com", "port": 465, "scheme": EmailProvider.Scheme.SMTPS}
# The bounce mailbox of a Gmail provider: the same account over IMAPS (implicit TLS).
GMAIL_IMAP_PRESET = {"host": "imap.gmail.com", "port": 993}


class GmailProviderForm(ProviderForm):
    kind = EmailProvider.Kind.GMAIL
    secret_label = "App password"
    secret_help = (
        "Not your Google password: turn on 2-Step Verification for the account, open "
        "Google's “App passwords” page, create one for Postdesk and paste the 16 letters here."
    )

    username = forms.EmailField(
        label="Gmail address",
        help_text="The Gmail or Google Workspace account that sends the mail.",
    )

    class Meta(ProviderForm.Meta):
        fields = ["nickname", "username", *SENDER_FIELDS, *PREFERENCE_FIELDS]
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "from_address": (
                "Leave blank to send from the account address. Gmail replaces any other "
                "address unless it is a verified alias of the account."
            ),
        }

    field_order = ["nickname", "username", "secret"]
    preset = GMAIL_PRESET  # the page names it too

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_address"].required = False

    def clean_secret(self) -> str:
        # Google shows app passwords in groups of four; accept them pasted with spaces.
        secret = "".join(self.cleaned_data.get("secret", "").split())
        if secret and not re.fullmatch(r"[A-Za-z]{16}", secret):
            raise ValidationError(
                "An app password is 16 letters. Create one on Google's “App passwords” page; "
                "your normal Google password will not work.",
                code="bad_app_password",
            )
        return secret

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("from_address") and cleaned.get("username"):
            cleaned["from_address"] = cleaned["username"]
            self.instance.from_address = cleaned["username"]
        return cleaned

    def apply_kind(self, provider: EmailProvider) -> None:
        super().apply_kind(provider)
        for name, value in self.preset.items():
            setattr(provider, name, value)
