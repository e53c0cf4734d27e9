from django.contrib import admin

from .models import Alert, DomainCheck, Thresholds


@admin.register(Thresholds)
class ThresholdsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "bounce_warning",
        "bounce_critical",
        "complaint_warning",
        "complaint_critical",
        "minimum_delivered",
    ]

    def has_add_permission(self, request) -> bool:
        return not Thresholds.objects.exists()


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "metric",
        "level",
        "window",
        "rate",
        "day",
        "emailed_at",
        "acknowledged_at",
    ]
    list_filter = ["metric", "level", "day"]
    list_select_related = ["provider"]
    readonly_fields = [f.name for f in Alert._meta.fields]


@admin.register(DomainCheck)
class DomainCheckAdmin(admin.ModelAdmin):
    list_display = ["provider", "domain", "dkim_selector", "checked_at"]
    list_select_related = ["provider"]
    readonly_fields = ["domain", "results", "checked_at"]
