"""Django admin for providers, test emails and the provider audit trail.

The provider admin uses the dashboard's forms, so it validates alike and never shows a
secret: the secret field is write-only and "blank keeps the stored value".
"""

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters

from common.admin import ReadOnlyAdminMixin

from . import audit
from .forms import FORMS, form_for
from .models import EmailProvider, ProviderAuditEntry, TestEmail


@admin.register(EmailProvider)
class EmailProviderAdmin(admin.ModelAdmin):
    list_display = ["nickname", "kind", "is_default", "from_address", "created_at"]
    list_filter = ["kind", "is_default"]
    search_fields = ["nickname", "from_address", "host", "username"]
    readonly_fields = ["is_default", "callback_url_display", "secret_status", "created_at"]
    actions = ["mark_as_default", "rotate_callback_urls"]
    ordering = ["nickname"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # The posted password or API key is masked in Django's error reports.
    @method_decorator(sensitive_post_parameters("secret"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- which form: the provider's kind, or ?kind= on the add page ----------------------
    def _kind(self, request: HttpRequest, obj: EmailProvider | None) -> str | None:
        if obj is not None:
            return obj.kind
        kind = request.GET.get("kind", "")
        return kind if kind in FORMS else None

    def add_view(self, request, form_url="", extra_context=None):
        if self._kind(request, None) is None:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "kinds": EmailProvider.Kind.choices,
                "title": "Add email provider: choose its kind",
            }
            return TemplateResponse(request, "providers/admin_choose_kind.html", context)
        return super().add_view(request, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kind = self._kind(request, obj) or EmailProvider.Kind.SMTP
        kwargs["form"] = form_for(kind)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        form = self._get_form_for_get_fields(request, obj)
        fields = [name for name in form.base_fields if name != "callback_signature"]
        return [
            (None, {"fields": fields}),
            ("Callbacks and status", {"fields": self.readonly_fields}),
        ]

    # --- read-only displays --------------------------------------------------------------
    @admin.display(description="Callback URL")
    def callback_url_display(self, obj: EmailProvider) -> str:
        if obj.pk is None:
            return "Generated when you save."
        return format_html('<code class="callback-url">{}</code>', obj.callback_url)

    @admin.display(description="Stored secret")
    def secret_status(self, obj: EmailProvider) -> str:
        if not obj.has_secret:
            return "Not set"
        hint = f"••••{obj.secret_last4}" if obj.secret_last4 else "Stored"
        if obj.secret_changed_at:
            hint += f" (changed {obj.secret_changed_at:%Y-%m-%d %H:%M} UTC)"
        return hint

    # --- saving and deleting keep the default rules ----------------------------------------
    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
        else:
            EmailProvider.objects.add(obj)

    def delete_model(self, request, obj):
        EmailProvider.objects.remove(obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for provider in queryset.order_by("pk"):
                EmailProvider.objects.remove(provider)

    # --- actions ----------------------------------------------------------------------------
    @admin.action(description="Mark the selected provider as default")
    def mark_as_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one provider.", messages.ERROR)
            return
        provider = queryset.get()
        with transaction.atomic():
            EmailProvider.objects.mark_default(provider)
            audit.record(request.user, provider, audit.MARKED_DEFAULT)
        self.message_user(request, f"“{provider}” is now the default provider.")

    @admin.action(description="Rotate the callback URL of the selected providers")
    def rotate_callback_urls(self, request, queryset):
        count = 0
        with transaction.atomic():
            for provider in queryset:
                provider.rotate_callback_token()
                audit.record(request.user, provider, audit.ROTATED_CALLBACK)
                count += 1
        rotated = ngettext(
            "Rotated %(count)d callback URL; the old URL no longer accepts events.",
            "Rotated %(count)d callback URLs; the old URLs no longer accept events.",
            count,
        )
        self.message_user(request, rotated % {"count": count})


@admin.register(TestEmail)
class TestEmailAdmin(admin.ModelAdmin):
    list_display = ["recipient", "provider", "status", "failure_reason", "created_at"]
    list_filter = ["status", "failure_reason"]
    search_fields = ["recipient", "provider__nickname", "esp_message_id"]
    list_select_related = ["provider"]
    date_hierarchy = "created_at"
    fields = [
        "provider",
        "recipient",
        "requested_by",
        "status",
        "failure_reason",
        "failure_detail",
        "esp_status_code",
        "esp_message_id",
        "meta",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "transcript",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProviderAuditEntry)
class ProviderAuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who changed which provider, and when; read-only."""

    list_display = ["action_time", "user", "object_repr", "action", "message"]
    list_filter = ["action_flag"]
    search_fields = ["object_repr", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "action_time"
    fields = ["action_time", "user", "object_id", "object_repr", "action", "message"]
    readonly_fields = fields

    def get_queryset(self, request):
        content_type = ContentType.objects.get_for_model(EmailProvider)
        return super().get_queryset(request).filter(content_type=content_type)

    @admin.display(description="Action", ordering="action_flag")
    def action(self, obj: LogEntry) -> str:
        return obj.get_action_flag_display()

    @admin.display(description="Change")
    def message(self, obj: LogEntry) -> str:
        return obj.get_change_message()
