from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone

from common.admin import ReadOnlyAdminMixin

from . import inbox, services
from .forms import SoftBouncePolicyForm, made_inactive_message
from .models import CallbackLog, DailyStat, PendingBatch, SoftBouncePolicy


@admin.register(CallbackLog)
class CallbackLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the log records what ESPs sent; nobody edits history. Retention
    (callbacks.retention) prunes old logs."""

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


class PendingStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting for a first try"), ("failing", "Failed, to be retried")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(attempts=0)
        if self.value() == "failing":
            return queryset.filter(attempts__gt=0)
        return queryset


@admin.register(PendingBatch)
class PendingBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: accepted batches waiting for a worker, with why a retry is due; deleting one
    would lose accepted events.

    "Retry now" makes failed batches due at once (after fixing what failed, say) and asks a
    worker to apply them; nothing else about a batch can be changed.
    """

    list_display = ["log", "log__received_at", "attempts", "retry_at", "last_error"]
    list_filter = [PendingStateFilter, "log__provider"]
    list_select_related = ["log"]
    actions = ["retry_now"]

    @admin.action(description="Retry the selected batches now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = queryset.update(retry_at=timezone.now())
        if count:
            inbox.publish(min(count, settings.CALLBACK_WAKE_TASKS))
        self.message_user(
            request, f"{count} batch{'es' if count != 1 else ''} will be retried now."
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("callbacks.change_pendingbatch")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")


@admin.register(DailyStat)
class DailyStatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the counters are what callbacks reported; only the apply service adds to them."""

    list_display = ["date", "provider", *DailyStat.COUNTERS]
    list_filter = ["provider"]
    list_select_related = ["provider"]
    date_hierarchy = "date"


@admin.register(SoftBouncePolicy)
class SoftBouncePolicyAdmin(admin.ModelAdmin):
    """A singleton: it can be edited, not added twice or deleted.

    It saves as the policy page does (`services.save_policy`, with the page's form), so the
    profiles the new policy covers become Inactive here too.
    """

    form = SoftBouncePolicyForm
    list_display = ["__str__", "threshold", "window_days", "updated_at"]

    def save_model(self, request, obj, form, change):
        affected = services.save_policy(obj)
        self.message_user(request, made_inactive_message(affected), messages.INFO)

    def has_add_permission(self, request):
        return not SoftBouncePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
