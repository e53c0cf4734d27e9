from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from common.permissions import staff_required

from . import services
from .forms import ProfileFilterForm, ReactivateForm
from .listing import filtered_profiles, paginate_without_count
from .models import Profile
from .preference_links import make_token

TIMELINE_PER_PAGE = 25

# (sort key, column heading) of the list's sortable columns.
SORTABLE_COLUMNS = [
    ("email", "Email"),
    ("name", "Name"),
    ("status", "Status"),
    ("inactive_since", "Inactive since"),
    ("created", "Created"),
]


@login_required
@require_GET
def profile_list(request):
    form = ProfileFilterForm(request.GET)
    filters = form.cleaned_or_defaults()
    page = paginate_without_count(filtered_profiles(filters), request.GET.get("page"))
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "profiles": page.items,
        "columns": _sort_columns(filters["sort"]),
        "is_filtered": bool(filters["q"] or filters["status"] or filters["reason"]),
    }
    return render(request, "profiles/profile_list.html", context)


def _sort_columns(current: str) -> list[dict]:
    """Each column's heading, the sort its link asks for, and its current direction."""
    columns = []
    for key, label in SORTABLE_COLUMNS:
        direction = "asc" if current == key else "desc" if current == f"-{key}" else ""
        columns.append(
            {
                "label": label,
                "sort": f"-{key}" if direction == "asc" else key,
                "direction": direction,
            }
        )
    return columns


@login_required
@require_GET
def profile_detail(request, pk):
    profile = get_object_or_404(Profile, pk=pk)
    timeline = paginate_without_count(
        profile.timeline.all(), request.GET.get("page"), per_page=TIMELINE_PER_PAGE
    )
    return render(
        request,
        "profiles/profile_detail.html",
        {
            "profile": profile,
            "timeline": timeline,
            "events": timeline.items,
            "preference_center_url": reverse(
                "profiles:preferences", args=[make_token(profile.email)]
            ),
        },
    )


@staff_required("Only an admin can re-activate an address.")
@require_http_methods(["GET", "POST"])
def profile_reactivate(request, pk):
    profile = get_object_or_404(Profile, pk=pk)
    if profile.is_active:
        messages.info(request, f"{profile.email} is already Active.")
        return redirect("profiles:detail", pk=profile.pk)
    form = ReactivateForm(request.POST or None, profile=profile)
    if request.method == "POST" and form.is_valid():
        reactivate_and_report(request, profile, form.cleaned_data["reason"])
        return redirect("profiles:detail", pk=profile.pk)
    return render(
        request,
        "profiles/profile_reactivate.html",
        {
            "profile": profile,
            "form": form,
            "needs_extra_confirmation": services.needs_extra_confirmation(profile),
        },
    )


def reactivate_and_report(request: HttpRequest, profile: Profile, reason: str) -> None:
    """Re-activate `profile` and say how it went, also when someone else just did it."""
    try:
        services.reactivate_profile(profile.pk, by=request.user, reason=reason)
    except services.ProfileAlreadyActive:
        messages.info(request, f"{profile.email} was already re-activated.")
    else:
        messages.success(request, f"{profile.email} is Active again.")
