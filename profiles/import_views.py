"""Upload a CSV of profiles, then watch the background import's progress."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .forms import ProfileImportForm, import_max_bytes
from .models import ProfileImport
from .tasks import import_profiles

RECENT_IMPORTS = 5


@login_required
@require_http_methods(["GET", "POST"])
def profile_import(request):
    form = ProfileImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        profile_import = ProfileImport.objects.create(
            created_by=request.user, filename=upload.name[:255], source=form.data_bytes
        )
        import_profiles.delay_on_commit(profile_import.pk)
        messages.success(request, f"{profile_import.filename} is being imported.")
        return redirect("profiles:import_status", pk=profile_import.pk)
    recent = ProfileImport.objects.defer("source").select_related("created_by")[:RECENT_IMPORTS]
    return render(
        request,
        "profiles/profile_import.html",
        {"form": form, "recent_imports": recent, "max_bytes": import_max_bytes()},
    )


@login_required
@require_GET
def import_status(request, pk):
    profile_import = get_object_or_404(ProfileImport.objects.defer("source"), pk=pk)
    return render(request, "profiles/import_status.html", {"import": profile_import})


@login_required
@require_GET
def import_progress(request, pk):
    """The progress page polls this while the import runs."""
    profile_import = get_object_or_404(ProfileImport.objects.defer("source", "errors"), pk=pk)
    return JsonResponse(
        {
            "status": profile_import.status,
            "status_label": profile_import.get_status_display(),
            "finished": profile_import.is_finished,
            "total": profile_import.total,
            "processed": profile_import.processed,
            "percent": profile_import.percent,
            "created": profile_import.created_count,
            "updated": profile_import.updated_count,
            "unchanged": profile_import.unchanged_count,
            "errors": profile_import.error_count,
            "failure": profile_import.failure,
        }
    )
