"""The shared base of the provider forms: the fields every kind has.

The dashboard and Django admin use the same classes, so both validate alike. Secrets are
write-only: the widget never renders the stored value, and a blank field keeps it.
"""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout
from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format

from providers.models import EmailProvider

_WEB_URL_MESSAGE = "Enter a full web address, such as https://example.com/preferences."
_WEB_URL = URLValidator(schemes=["http", "https"], message=_WEB_URL_MESSAGE)
_CALLBACK_SALT = "providers.callback-token"
_CALLBACK_MAX_AGE = 24 * 60 * 60

# The fields every kind shows after its connection fields, in this order.
SENDER_FIELDS = ["from_name", "from_address", "reply_to_address"]
PREFERENCE_FIELDS = ["preference_center", "preference_center_url"]


def _accept_web_addresses_only(field: forms.URLField) -> None:
    """One check and one message for a web address (the form and model fields each add one)."""
    field.validators = [_WEB_URL]
    field.error_messages["invalid"] = _WEB_URL_MESSAGE


def _formfield(model_field, **kwargs):
    # Addresses typed without a scheme are web pages: assume https, not http.
    if isinstance(model_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return model_field.formfield(**kwargs)


# --- the shared base ---------------------------------------------------------------------


class ProviderForm(forms.ModelForm):
    """Fields every kind has; subclasses add the connection fields and set the labels."""

    kind: str = ""
    secret_label = "Password"
    secret_help = ""

    secret = forms.CharField(
        strip=True,
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = EmailProvider
        formfield_callback = _formfield
        fields = ["nickname", *SENDER_FIELDS, *PREFERENCE_FIELDS]
        labels = {"nickname": "Nickname", "preference_center_url": "Preference center URL"}
        help_texts = {
            "nickname": "A unique name that tells this provider apart on the dashboard.",
            "from_name": "The sender name recipients see in their inbox.",
            "from_address": "The sender address. People open mail from senders they recognise.",
            "reply_to_address": "Where replies go. Use an address someone reads.",
            "preference_center": (
                "Where recipients manage their email preferences: none, Postdesk's own page, "
                "or your own page."
            ),
            "preference_center_url": "The web address of your own preference center.",
        }
        widgets = {
            "preference_center": forms.Select(attrs={"data-toggles": "preference_center"}),
        }

    def __init__(self, *args, sign_callback_token: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.kind = self.kind
        self._set_up_secret_field()
        if "preference_center_url" in self.fields:
            _accept_web_addresses_only(self.fields["preference_center_url"])
        if sign_callback_token and self.instance.pk is None:
            self.fields["callback_signature"] = forms.CharField(
                required=False,
                widget=forms.HiddenInput,
                initial=signing.dumps(self.instance.callback_token, salt=_CALLBACK_SALT),
            )
        self.helper = self._build_helper()

    # --- presentation --------------------------------------------------------------------
    def _set_up_secret_field(self) -> None:
        field = self.fields["secret"]
        field.label = self.secret_label
        field.required = not self.instance.has_secret
        help_parts = [self.secret_help] if self.secret_help else []
        if self.instance.has_secret:
            help_parts.append(f"Leave blank to keep the current value ({self.secret_hint()}).")
        field.help_text = " ".join(help_parts)

    def secret_hint(self) -> str:
        """What the page may say about the stored secret: last four characters and when."""
        provider = self.instance
        if not provider.has_secret:
            return "not set"
        hint = f"ends in ••••{provider.secret_last4}" if provider.secret_last4 else "stored"
        if provider.secret_changed_at:
            changed = date_format(timezone.localtime(provider.secret_changed_at), "N j, Y, H:i")
            hint += f", last changed {changed}"
        return hint

    def _build_helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        items = []
        for name in self.fields:
            if name == "preference_center_url":
                items.append(Div(name, data_shown_when="preference_center=custom"))
            else:
                items.append(name)
        helper.layout = Layout(*items)
        return helper

    # --- validation ------------------------------------------------------------------------
    def clean_nickname(self) -> str:
        nickname = " ".join(self.cleaned_data["nickname"].split())
        if not nickname:
            raise ValidationError("Enter a nickname.", code="required")
        clash = EmailProvider.objects.filter(nickname__iexact=nickname)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(
                "Another provider already uses this nickname. Choose a different one.",
                code="unique",
            )
        return nickname

    def clean_secret(self) -> str:
        return self.cleaned_data.get("secret", "")

    def _post_clean(self) -> None:
        super()._post_clean()  # copies the typed values onto the instance
        self._require_secret_for_new_destination()

    def _require_secret_for_new_destination(self) -> None:
        """A stored secret goes only where it was saved for; elsewhere it must be typed."""
        provider = self.instance
        if self.cleaned_data.get("secret") or self.has_error("secret") or not provider.has_secret:
            return
        self.apply_kind(provider)
        if provider.uses_secret and not provider.secret_fits():
            self.add_error(
                "secret",
                ValidationError(
                    "Type it again: the stored one was saved for other connection settings "
                    "(server, port, scheme, username or API address), and Postdesk sends it "
                    "only where it was saved for.",
                    code="secret_for_other_destination",
                ),
            )

    def clean(self):
        cleaned = super().clean()
        if "preference_center" in self.fields:
            self._clean_preference_center(cleaned)
        if "callback_signature" in self.fields:
            self._adopt_signed_callback_token(cleaned.get("callback_signature", ""))
        return cleaned

    def _clean_preference_center(self, cleaned: dict) -> None:
        if cleaned.get("preference_center") == EmailProvider.PreferenceCenter.CUSTOM:
            if not cleaned.get("preference_center_url") and not self.has_error(
                "preference_center_url"
            ):
                self.add_error(
                    "preference_center_url",
                    ValidationError(
                        "Enter the address of your preference center, or choose another option.",
                        code="required",
                    ),
                )
        else:
            # The URL only matters for a custom center; ignore whatever the hidden field held.
            self.errors.pop("preference_center_url", None)
            cleaned["preference_center_url"] = ""

    def _adopt_signed_callback_token(self, signature: str) -> None:
        """Keep the callback URL shown on the add page, if the page really issued it."""
        try:
            token = signing.loads(signature, salt=_CALLBACK_SALT, max_age=_CALLBACK_MAX_AGE)
        except signing.BadSignature:
            return
        taken = EmailProvider.objects.filter(callback_token=token).exists()
        if isinstance(token, str) and not taken:
            self.instance.callback_token = token

    # --- saving --------------------------------------------------------------------------
    def apply_kind(self, provider: EmailProvider) -> None:
        """Set what the kind decides rather than the user (presets, fixed values)."""
        provider.kind = self.kind

    def save(self, commit: bool = True) -> EmailProvider:
        provider = super().save(commit=False)
        self.apply_kind(provider)
        if self.cleaned_data.get("secret"):
            provider.set_secret(self.cleaned_data["secret"])
        if commit:
            provider.save()
        return provider

    @property
    def secret_changed(self) -> bool:
        return bool(self.cleaned_data.get("secret"))
