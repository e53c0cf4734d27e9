"""Export the profile list as CSV: confirm, build it in the background, download it."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseNotFound, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from . import exporting
from .forms import ProfileFilterForm
from .models import Profile, ProfileExport
from .tasks import export_profiles

RECENT_EXPORTS = 5


@login_required
@require_http_methods(["GET", "POST"])
def profile_export(request):
    """GET: what will be exported (the list's filters), with a button; POST: start it."""
    data = request.POST if request.method == "POST" else request.GET
    form = ProfileFilterForm(data)
    filters = form.cleaned_or_defaults()
    if request.method == "POST":
        export = exporting.start_export(filters, by=request.user)
        export_profiles.delay_on_commit(export.pk)
        return redirect("profiles:export_status", pk=export.pk)
    recent = ProfileExport.objects.filter(created_by=request.user)[:RECENT_EXPORTS]
    context = {
        "filters": filters,
        "status_label": Profile.Status(filters["status"]).label if filters["status"] else "",
        "reason_label": Profile.Reason(filters["reason"]).label if filters["reason"] else "",
        "recent_exports": recent,
    }
    return render(request, "profiles/export_start.html", context)


@login_required
@require_GET
def export_status(request, pk):
    export = get_object_or_404(ProfileExport, pk=pk)
    return render(request, "profiles/export_status.html", {"export": export})


@login_required
@require_GET
def export_progress(request, pk):
    """The status page polls this while the export runs."""
    export = get_object_or_404(ProfileExport, pk=pk)
    return JsonResponse(
        {
            "status": export.status,
            "status_label": export.get_status_display(),
            "finished": export.is_finished,
            "total": export.total,
            "processed": export.processed,
            "percent": export.percent,
        }
    )


@login_required
@require_GET
def export_download(request, pk):
    export = get_object_or_404(ProfileExport, pk=pk)
    if export.status != ProfileExport.Status.DONE:
        return HttpResponseNotFound("This export is not ready.")
    response = StreamingHttpResponse(
        exporting.stream_csv(export), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
