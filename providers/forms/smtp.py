"""The Generic SMTP provider form."""

from django import forms
from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import PREFERENCE_FIELDS, SENDER_FIELDS, ProviderForm
from .validators import validate_hostname


class SmtpProviderForm(ProviderForm):
    kind = EmailProvider.Kind.SMTP
    secret_label = "Password"
    secret_help = "The SMTP password for the username above."

    host = forms.CharField(
        label="Host",
        max_length=253,
        validators=[validate_hostname],
        help_text="The SMTP server's host name or IP address, e.g. smtp.example.com.",
    )
    port = forms.IntegerField(
        label="Port",
        min_value=1,
        max_value=65535,
        help_text="Usually 587 for STARTTLS, 465 for SMTPS, 25 for plain SMTP.",
    )
    scheme = forms.ChoiceField(
        label="Scheme",
        choices=EmailProvider.Scheme.choices,
        help_text=(
            "SMTPS encrypts from the first byte; STARTTLS upgrades a plain connection; "
            "SMTP sends unencrypted."
        ),
    )

    class Meta(ProviderForm.Meta):
        fields = [
            "nickname",
            "host",
            "port",
            "scheme",
            "allow_plaintext_auth",
            "username",
            *SENDER_FIELDS,
            *PREFERENCE_FIELDS,
        ]
        labels = {**ProviderForm.Meta.labels, "username": "Username"}
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "username": (
                "The SMTP login. Leave username and password blank only for a relay that "
                "accepts mail without logging in."
            ),
        }

    field_order = [*Meta.fields[:6], "secret", *Meta.fields[6:]]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Username and password go together; both blank means "no authentication".
        self.fields["secret"].required = False

    def clean(self):
        cleaned = super().clean()
        username = cleaned.get("username", "")
        has_password = bool(cleaned.get("secret")) or self.instance.has_secret
        if username and not has_password and not self.has_error("secret"):
            self.add_error("secret", ValidationError("Enter the password for this username."))
        if cleaned.get("secret") and not username and not self.has_error("username"):
            self.add_error("username", ValidationError("Enter the username for this password."))
        return cleaned
