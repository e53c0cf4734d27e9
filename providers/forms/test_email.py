"""The "Send test email" form."""

from django import forms


class TestEmailForm(forms.Form):
    recipient = forms.EmailField(
        label="Recipient",
        help_text="Use an address you can read; test emails never change a profile.",
    )


TestEmailForm.__test__ = False  # not a pytest test class
