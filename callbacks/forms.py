from django import forms
from django.utils.translation import ngettext

from .models import SoftBouncePolicy


class SoftBouncePolicyForm(forms.ModelForm):
    class Meta:
        model = SoftBouncePolicy
        fields = ["threshold", "window_days"]
        labels = {"threshold": "Soft bounces", "window_days": "Within (days)"}
        help_texts = {
            "threshold": "Make an address Inactive after this many soft bounces. "
            "Leave empty to never do so.",
            "window_days": "A soft bounce counts if it happened within this many days before "
            "now and within this many days after the first one counted; otherwise it starts a "
            "new count. A delivered email also starts the count again.",
        }

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if threshold is not None and threshold < 1:
            raise forms.ValidationError("Enter 1 or more, or leave empty for never.")
        return threshold

    def clean_window_days(self):
        days = self.cleaned_data["window_days"]
        if not 1 <= days <= 365:
            raise forms.ValidationError("Enter a number of days between 1 and 365.")
        return days


def made_inactive_message(count: int) -> str:
    """What saving a soft-bounce policy did, for the policy page and the admin."""
    if not count:
        return "No profile was made Inactive."
    return ngettext(
        "%(count)d profile was made Inactive.", "%(count)d profiles were made Inactive.", count
    ) % {"count": count}
