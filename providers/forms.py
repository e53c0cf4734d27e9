"""Provider forms: one ModelForm per kind on a shared base with the common fields.

The dashboard and Django admin use the same classes, so both validate alike. Secrets are
write-only: the widget never renders the stored value, and a blank field keeps it.
"""

import base64
import binascii
import ipaddress
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format

from . import network
from .models import EmailProvider

Kind = EmailProvider.Kind

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_WEB_URL_MESSAGE = "Enter a full web address, such as https://example.com/preferences."
_WEB_URL = URLValidator(schemes=["http", "https"], message=_WEB_URL_MESSAGE)
_CALLBACK_SALT = "providers.callback-token"
_CALLBACK_MAX_AGE = 24 * 60 * 60

GMAIL_PRESET = {"host": "smtp.gmail.com", "port": 465, "scheme": EmailProvider.Scheme.SMTPS}


# --- validators ------------------------------------------------------------------------


def validate_hostname(value: str) -> None:
    """A bare host name or IP address, as an SMTP client connects to it."""
    if not value:
        return
    if any(ch.isspace() for ch in value):
        raise ValidationError("A host name cannot contain spaces.", code="host_spaces")
    if "://" in value or "/" in value:
        raise ValidationError(
            "Enter only the host name (for example smtp.example.com), without smtp:// or a path.",
            code="host_scheme",
        )
    bare = value.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        _validate_host_name_syntax(value)
    if not settings.PROVIDER_HOSTS_ALLOW_PRIVATE:
        _refuse_internal_addresses(bare)


def _refuse_internal_addresses(host: str) -> None:
    try:
        network.check_host(host)
    except network.ForbiddenHost as exc:
        raise ValidationError(str(exc), code="host_internal") from exc
    except OSError as exc:
        raise ValidationError(
            "Postdesk could not look up this host name. Check the spelling.",
            code="host_unresolvable",
        ) from exc


def _validate_host_name_syntax(value: str) -> None:
    if ":" in value:
        raise ValidationError(
            "Enter the port in the Port field, not after the host name.", code="host_port"
        )
    name = value.removesuffix(".")
    if len(name) > 253:
        raise ValidationError("A host name is at most 253 characters long.", code="host_length")
    labels = name.split(".")
    for label in labels:
        if not _HOST_LABEL.match(label):
            raise ValidationError(
                "“%(value)s” is not a valid host name: each part between dots uses only "
                "letters, digits and hyphens, and cannot start or end with a hyphen.",
                code="host_label",
                params={"value": value},
            )
    if labels[-1].isdigit():
        raise ValidationError(
            "“%(value)s” is neither a valid IP address nor a host name.",
            code="host_numeric",
            params={"value": value},
        )


def validate_sendgrid_verification_key(value: str) -> None:
    """SendGrid's signed-webhook key: base64 of a DER P-256 public key (no PEM lines)."""
    if not value:
        return
    try:
        key = load_der_public_key(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValidationError(
            "Paste the verification key exactly as SendGrid shows it (one line of base64, "
            "starting with MFkw).",
            code="bad_verification_key",
        )


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
        fields = [
            "nickname",
            "from_name",
            "from_address",
            "reply_to_address",
            "preference_center",
            "preference_center_url",
        ]
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


# --- one form per kind -----------------------------------------------------------------------


class SmtpProviderForm(ProviderForm):
    kind = Kind.SMTP
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
            "from_name",
            "from_address",
            "reply_to_address",
            "preference_center",
            "preference_center_url",
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


class GmailProviderForm(ProviderForm):
    kind = Kind.GMAIL
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
        fields = [
            "nickname",
            "username",
            "from_name",
            "from_address",
            "reply_to_address",
            "preference_center",
            "preference_center_url",
        ]
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "from_address": (
                "Leave blank to send from the account address. Gmail replaces any other "
                "address unless it is a verified alias of the account."
            ),
        }

    field_order = ["nickname", "username", "secret"]

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
        for name, value in GMAIL_PRESET.items():
            setattr(provider, name, value)


class SendGridProviderForm(ProviderForm):
    kind = Kind.SENDGRID
    secret_label = "API Key"
    secret_help = (
        "Create one in SendGrid under Settings > API Keys with “Mail Send” access. "
        "It starts with SG."
    )

    class Meta(ProviderForm.Meta):
        fields = [
            "nickname",
            "from_name",
            "from_address",
            "reply_to_address",
            "preference_center",
            "preference_center_url",
            "webhook_verification_key",
        ]
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


class NetcoreProviderForm(ProviderForm):
    kind = Kind.NETCORE
    secret_label = "API Key"
    secret_help = (
        "Find it in Netcore Email under Settings > Integrations > API. Keys are case-sensitive."
    )

    class Meta(ProviderForm.Meta):
        # Netcore's documents call the preference center choice its "Unsubscribe Page".
        labels = {
            **ProviderForm.Meta.labels,
            "preference_center": "Unsubscribe Page",
            "preference_center_url": "Unsubscribe page URL",
        }
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "preference_center": (
                "Where recipients unsubscribe: none, Postdesk's preference center, or your own "
                "unsubscribe page (Custom URL)."
            ),
            "preference_center_url": "The web address of your own unsubscribe page.",
        }

    field_order = ["nickname", "secret"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if any(ch.isspace() for ch in secret):
            raise ValidationError("An API key has no spaces. Copy it again from Netcore.")
        return secret


FORM_CLASSES: dict[str, type[ProviderForm]] = {
    Kind.SMTP: SmtpProviderForm,
    Kind.GMAIL: GmailProviderForm,
    Kind.SENDGRID: SendGridProviderForm,
    Kind.NETCORE: NetcoreProviderForm,
}


def form_class_for(kind: str) -> type[ProviderForm]:
    """The form of one kind; KeyError for a kind Postdesk does not know."""
    return FORM_CLASSES[kind]


class ChooseKindForm(forms.Form):
    kind = forms.ChoiceField(
        label="Provider",
        choices=Kind.choices,
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
        if provider.is_default and others.exists():
            self.fields["successor"].queryset = others
        else:
            del self.fields["successor"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
