"""Django admin for profiles, their timelines and imports.

The admin keeps the dashboard's rules: an address is validated and stored folded; the email
status is read-only on the change form (callbacks and people change it through services), and
re-activation is its own admin page that goes through `services.reactivate_profile` with the
dashboard's form (reason, extra confirmation for hard bounces and spam, timeline, audit). An
edit saves only the fields it changed, so it never writes back a status a callback set
meanwhile.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.validators import validate_email
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from common.admin import ReadOnlyAdminMixin

from . import services
from .categories import Category, known_categories
from .forms import ReactivateForm
from .models import Profile, ProfileImport, TimelineEvent, normalize_email
from .views import reactivate_and_report

# Above this many rows, an unfiltered admin list shows PostgreSQL's estimate of the row count
# instead of running COUNT(*) over the whole table.
ESTIMATE_ABOVE_ROWS = 100_000


class LargeTablePaginator(Paginator):
    """Counts an unfiltered list from the planner's statistics on PostgreSQL."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > ESTIMATE_ABOVE_ROWS:
                return row[0]
        return super().count


class ProfileAdminForm(forms.ModelForm):
    # The categories as the preference center offers them, not free JSON.
    unsubscribed_categories = forms.MultipleChoiceField(
        label="Opted out of",
        required=False,
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Profile
        fields = ["email", "name", "unsubscribed_categories"]

    def clean_unsubscribed_categories(self) -> list[str]:
        return known_categories(self.cleaned_data["unsubscribed_categories"])

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        validate_email(email)
        return email


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    form = ProfileAdminForm
    list_display = ["email", "name", "status", "inactive_reason", "inactive_since", "created_at"]
    list_filter = ["status", "inactive_reason"]
    search_fields = ["email", "name"]
    search_help_text = "Three characters or more match anywhere in the email or name."
    # A million rows: never count the whole table for the "N total" link.
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = [*Profile.STATUS_FIELDS, "reactivate_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["email", "name"]}),
        ("Email status", {"fields": [*Profile.STATUS_FIELDS, "reactivate_link"]}),
        ("Preference center", {"fields": ["unsubscribed_categories"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        # The list page's search, so that the admin uses the same indexes (trigram for three
        # characters or more, prefix below) instead of an unindexable UPPER(...) LIKE '%x%'.
        return queryset.search(search_term), False

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only what this form changed: a status a callback set since the page loaded stays.
        if form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated_at"])

    @admin.display(description="Re-activate")
    def reactivate_link(self, obj: Profile) -> str:
        if obj.pk is None or obj.is_active:
            return "—"
        url = reverse("admin:profiles_profile_reactivate", args=[obj.pk])
        return format_html('<a class="button" href="{}">Re-activate this address…</a>', url)

    def get_urls(self):
        reactivate = self.admin_site.admin_view(self.reactivate_view)
        return [
            path("<int:pk>/reactivate/", reactivate, name="profiles_profile_reactivate"),
            *super().get_urls(),
        ]

    def reactivate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The dashboard's re-activation, inside the admin: same form, same service."""
        profile = get_object_or_404(Profile, pk=pk)
        if not self.has_change_permission(request, profile):
            raise PermissionDenied
        change_url = reverse("admin:profiles_profile_change", args=[profile.pk])
        if profile.is_active:
            self.message_user(request, f"{profile.email} is already Active.", messages.INFO)
            return redirect(change_url)
        form = ReactivateForm(request.POST or None, profile=profile)
        if request.method == "POST" and form.is_valid():
            reactivate_and_report(request, profile, form.cleaned_data["reason"])
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Re-activate {profile.email}?",
            "profile": profile,
            "form": form,
            "needs_extra_confirmation": services.needs_extra_confirmation(profile),
            "change_url": change_url,
        }
        return TemplateResponse(request, "profiles/admin_reactivate.html", context)


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """System events are facts reported by ESPs and people: read-only here."""

    list_display = ["occurred_at", "kind", "profile", "provider_name"]
    list_filter = ["kind"]
    list_select_related = ["profile"]
    raw_id_fields = ["profile"]
    search_fields = ["=profile__email"]
    search_help_text = "The profile's full email address."
    show_full_result_count = False
    paginator = LargeTablePaginator
    # Newest first by primary key: served by the primary key index on any table size.
    ordering = ["-id"]
    readonly_fields = [
        "profile",
        "kind",
        "occurred_at",
        "provider_name",
        "properties",
        "created_at",
    ]

    def get_search_results(self, request, queryset, search_term):
        search_term = search_term.strip().lower()
        if not search_term:
            return queryset, False
        return queryset.filter(profile__email=search_term), False


@admin.register(ProfileImport)
class ProfileImportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "filename", "status", "total", "processed", "error_count"]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    exclude = ["source"]
    readonly_fields = [
        "created_by",
        "filename",
        "status",
        "total",
        "processed",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
        "errors",
        "failure",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("source")
