from django import forms

from .models import DomainCheck, Thresholds


class ThresholdsForm(forms.ModelForm):
    class Meta:
        model = Thresholds
        fields = [
            "bounce_warning",
            "bounce_critical",
            "complaint_warning",
            "complaint_critical",
            "minimum_delivered",
        ]

    def clean(self):
        cleaned = super().clean()
        for metric in ("bounce", "complaint"):
            warning = cleaned.get(f"{metric}_warning")
            critical = cleaned.get(f"{metric}_critical")
            if warning is not None and critical is not None and warning > critical:
                self.add_error(
                    f"{metric}_critical", "The critical level must not be below the warning level."
                )
        return cleaned


class DkimSelectorForm(forms.ModelForm):
    class Meta:
        model = DomainCheck
        fields = ["dkim_selector"]

    def clean_dkim_selector(self) -> str:
        selector = self.cleaned_data["dkim_selector"].strip().lower()
        labels = selector.split(".") if selector else []
        if any(
            not label or not label.replace("-", "").replace("_", "").isalnum() for label in labels
        ):
            raise forms.ValidationError("A selector is letters, digits, hyphens and dots only.")
        return selector
