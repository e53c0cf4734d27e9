from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from .models import Profile, ProfileImport, TimelineEvent

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


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "status", "inactive_reason", "inactive_since", "created_at"]
    list_filter = ["status", "inactive_reason"]
    search_fields = ["email", "name"]
    search_help_text = "Three characters or more match anywhere in the email or name."
    # A million rows: never count the whole table for the "N total" link.
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["email", "name"]}),
        (
            "Email status",
            {
                "fields": [
                    "status",
                    "inactive_reason",
                    "inactive_since",
                    "inactive_provider",
                    "inactive_detail",
                    "soft_bounce_count",
                    "soft_bounce_since",
                ]
            },
        ),
        ("Preference center", {"fields": ["unsubscribed_categories"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        # The list page's search, so that the admin uses the same indexes (trigram for three
        # characters or more, prefix below) instead of an unindexable UPPER(...) LIKE '%x%'.
        return queryset.search(search_term), False


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

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
