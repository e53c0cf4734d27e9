"""Forms of the provider pages that are not a provider's settings."""

from crispy_forms.helper import FormHelper
from django import forms

from providers.models import EmailProvider


class ChooseKindForm(forms.Form):
    kind = forms.ChoiceField(
        label="Provider",
        choices=EmailProvider.Kind.choices,
        help_text="The email service your campaigns and test emails go out through.",
    )


class DeleteProviderForm(forms.Form):
    """Confirms a deletion; asks for the next default when the default is deleted."""

    successor = forms.ModelChoiceField(
        queryset=EmailProvider.objects.none(),
        label="New default provider",
        empty_label=None,
        help_text="This provider is the default. Choose which one takes over.",
    )

    def __init__(self, *args, provider: EmailProvider, **kwargs):
        super().__init__(*args, **kwargs)
        others = EmailProvider.objects.exclude(pk=provider.pk).order_by("nickname")
        self.has_other_providers = others.exists()
        if provider.is_default and self.has_other_providers:
            self.fields["successor"].queryset = others
        else:
            del self.fields["successor"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
