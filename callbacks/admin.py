from django.contrib import admin

from .models import CallbackLog, DailyStat, PendingBatch, SoftBouncePolicy


@admin.register(CallbackLog)
class CallbackLogAdmin(admin.ModelAdmin):
    """Read-only: the log records what ESPs sent; nobody edits history."""

    list_display = [
        "received_at",
        "provider",
        "method",
        "status_code",
        "payload_format",
        "events_total",
        "processed",
        "failed",
        "duplicates",
        "ignored",
        "is_sample",
        "applied_at",
    ]
    list_filter = ["status_code", "is_sample", "payload_format", "provider"]
    list_select_related = ["provider"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PendingBatch)
class PendingBatchAdmin(admin.ModelAdmin):
    """Read-only: accepted batches waiting for a worker, with why a retry is due."""

    list_display = ["log", "log__received_at", "attempts", "retry_at", "last_error"]
    list_select_related = ["log"]
    exclude = ["events"]  # the parsed events, thousands of them: the log has the body

    def get_queryset(self, request):
        return super().get_queryset(request).defer("events")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting one would lose accepted events


@admin.register(DailyStat)
class DailyStatAdmin(admin.ModelAdmin):
    list_display = ["date", "provider", *DailyStat.COUNTERS]
    list_filter = ["provider"]
    list_select_related = ["provider"]
    date_hierarchy = "date"


@admin.register(SoftBouncePolicy)
class SoftBouncePolicyAdmin(admin.ModelAdmin):
    """A singleton: it can be edited, not added twice or deleted."""

    list_display = ["__str__", "threshold", "window_days", "updated_at"]

    def has_add_permission(self, request):
        return not SoftBouncePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
