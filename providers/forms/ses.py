"""The Amazon SES provider form: region, access key ID, secret access key, configuration set."""

import re

from django import forms
from django.core.exceptions import ValidationError

from providers.models import EmailProvider

from .base import ProviderForm

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")
CONFIGURATION_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SesProviderForm(ProviderForm):
    kind = EmailProvider.Kind.SES
    secret_label = "Secret access key"
    secret_help = (
        "The secret of the IAM access key. Give that IAM user ses:SendEmail and ses:GetAccount."
    )

    class Meta(ProviderForm.Meta):
        fields = [*ProviderForm.Meta.fields, "region", "access_key_id", "configuration_set"]
        labels = {
            **ProviderForm.Meta.labels,
            "region": "Region",
            "access_key_id": "Access key ID",
            "configuration_set": "Configuration set",
        }
        help_texts = {
            **ProviderForm.Meta.help_texts,
            "region": "The AWS region your SES identities are verified in, such as eu-west-1.",
            "access_key_id": "The IAM access key ID, starting with AKIA.",
            "configuration_set": (
                "Optional, recommended. The configuration set whose event destination sends "
                "Bounce, Complaint, Delivery, Reject, Rendering Failure and Subscription events "
                "to Postdesk's SNS topic."
            ),
        }
        widgets = {**ProviderForm.Meta.widgets, "region": forms.TextInput()}

    field_order = ["nickname", "region", "access_key_id", "secret", "configuration_set"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].required = True
        self.fields["access_key_id"].required = True

    def clean_region(self) -> str:
        region = self.cleaned_data.get("region", "").strip().lower()
        if not REGION.match(region):
            raise ValidationError(
                "Enter an AWS region code such as us-east-1 or eu-west-1.", code="bad_region"
            )
        return region

    def clean_access_key_id(self) -> str:
        key_id = self.cleaned_data.get("access_key_id", "").strip()
        if not ACCESS_KEY_ID.match(key_id):
            raise ValidationError(
                "An access key ID is 20 capital letters and digits starting with AKIA. Copy it "
                "from the IAM console.",
                code="bad_access_key_id",
            )
        return key_id

    def clean_configuration_set(self) -> str:
        name = self.cleaned_data.get("configuration_set", "").strip()
        if name and not CONFIGURATION_SET.match(name):
            raise ValidationError(
                "A configuration set name has only letters, digits, - and _.",
                code="bad_configuration_set",
            )
        return name

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if any(ch.isspace() for ch in secret):
            raise ValidationError("A secret access key has no spaces. Copy it again from IAM.")
        return secret
