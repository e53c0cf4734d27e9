from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from . import importing
from .categories import Category
from .models import Profile
from .services import needs_extra_confirmation

# Sort keys offered by the list, each with the ORDER BY it stands for (see views.SORTS).
SORT_CHOICES = [
    ("email", "Email (A–Z)"),
    ("-email", "Email (Z–A)"),
    ("name", "Name (A–Z)"),
    ("-name", "Name (Z–A)"),
    ("status", "Status"),
    ("-status", "Status (reversed)"),
    ("-inactive_since", "Inactive since (newest first)"),
    ("inactive_since", "Inactive since (oldest first)"),
    ("-created", "Created (newest first)"),
    ("created", "Created (oldest first)"),
]


def import_max_bytes() -> int:
    return settings.PROFILE_IMPORT_MAX_BYTES


class ProfileFilterForm(forms.Form):
    """The list's search and filters, read from the query string; bad values are ignored."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Email or name"}),
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Profile.Status.choices]
    )
    reason = forms.ChoiceField(
        label="Inactive reason",
        required=False,
        choices=[("", "Any reason"), *Profile.Reason.choices],
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)

    def cleaned_or_defaults(self) -> dict:
        """The valid filters; a field with a bad value falls back to 'no filter'."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": data.get("q", "").strip(),
            "status": data.get("status", ""),
            "reason": data.get("reason", ""),
            "sort": data.get("sort") or "email",
        }


class ReactivateForm(forms.Form):
    reason = forms.CharField(
        label="Why is this address safe to email again?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept on the profile's timeline and in the audit trail.",
    )
    confirm = forms.BooleanField(
        label="I understand the risk: mailing this address again can hurt the sender's "
        "reputation, and I have checked that it now accepts mail from us.",
        required=True,
    )

    def __init__(self, *args, profile: Profile, **kwargs):
        super().__init__(*args, **kwargs)
        if not needs_extra_confirmation(profile):
            del self.fields["confirm"]

    def clean_reason(self) -> str:
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


class ProfileImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV whose first line names the columns: email and, optionally, name.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = import_max_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)}. Split it into smaller files."
            )
        data = b"".join(upload.chunks())
        try:
            importing.check_csv(data)
        except importing.ImportFileError as exc:
            raise forms.ValidationError(str(exc)) from exc
        self.data_bytes = data
        return upload


class PreferencesForm(forms.Form):
    """The recipient's choices: the categories they still want, or nothing at all."""

    categories = forms.MultipleChoiceField(
        label="Email I want to receive",
        required=False,
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    unsubscribe_all = forms.BooleanField(label="Unsubscribe me from all email", required=False)

    @classmethod
    def for_profile(cls, profile: Profile | None) -> "PreferencesForm":
        if profile is None:
            return cls(initial={"categories": Category.values, "unsubscribe_all": False})
        opted_out = set(profile.unsubscribed_categories or [])
        return cls(
            initial={
                "categories": [key for key in Category.values if key not in opted_out],
                "unsubscribe_all": (
                    not profile.is_active and profile.inactive_reason == Profile.Reason.UNSUBSCRIBED
                ),
            }
        )

    def unsubscribed_categories(self) -> list[str]:
        wanted = set(self.cleaned_data["categories"])
        return [key for key in Category.values if key not in wanted]
