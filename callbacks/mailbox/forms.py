"""The "Bounce mailbox" settings form."""

from __future__ import annotations

from django import forms

from callbacks.mailbox.models import BounceMailbox
from providers.models import EmailProvider


class BounceMailboxForm(forms.ModelForm):
    """IMAP settings; the password is write-only: empty keeps the stored one."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = BounceMailbox
        fields = [
            "enabled",
            "host",
            "port",
            "tls",
            "username",
            "password",
            "folder",
            "processed_action",
            "move_to_folder",
        ]
        labels = {
            "enabled": "Read bounces from this mailbox",
            "host": "IMAP host",
            "tls": "TLS",
            "processed_action": "When a message is read",
            "move_to_folder": "Move to folder",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        mailbox = self.instance
        if mailbox.pk and mailbox.password_encrypted:
            self.fields["password"].help_text = "Stored. Leave empty to keep it."
        elif mailbox.provider_id and mailbox.provider.kind == EmailProvider.Kind.GMAIL:
            self.fields[
                "password"
            ].help_text = "Leave empty to use the provider's app password (same Gmail account)."

    def clean(self) -> dict:
        data = super().clean()
        moving = data.get("processed_action") == BounceMailbox.Processed.MOVE
        if moving and not data.get("move_to_folder"):
            self.add_error("move_to_folder", "Name the folder to move read messages to.")
        return data

    def settings_changed(self) -> bool:
        """Whether the mailbox now points elsewhere, which voids the stored password."""
        return any(name in self.changed_data for name in ("host", "port", "username"))

    def apply_password(self) -> None:
        """Set the typed password; a mailbox moved elsewhere does not keep the old one."""
        typed = self.cleaned_data.get("password")
        if typed:
            self.instance.set_password(typed)
        elif self.instance.pk and self.settings_changed():
            self.instance.password_encrypted = ""
