"""Deliverability pages: thresholds (staff), alert history, acknowledging, domain checks."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.permissions import staff_required
from providers.models import EmailProvider

from . import domain_checks
from .forms import DkimSelectorForm, ThresholdsForm
from .models import Alert, DomainCheck, Thresholds

ALERTS_PER_PAGE = 50


def back_to(request, fallback: str):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)


@staff_required("Only admins can change the deliverability thresholds.")
@require_http_methods(["GET", "POST"])
def thresholds(request):
    current = Thresholds.current()
    form = ThresholdsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Deliverability thresholds updated.")
        return redirect("deliverability:thresholds")
    return render(request, "deliverability/thresholds.html", {"form": form})


@login_required
@require_GET
def alert_list(request):
    alerts = Alert.objects.select_related("provider", "acknowledged_by")
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "deliverability/alert_list.html", {"page": page})


@login_required
@require_POST
def acknowledge(request, pk: int):
    Alert.objects.unacknowledged().filter(pk=pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=request.user
    )
    messages.success(request, "Alert acknowledged.")
    return back_to(request, "deliverability:alerts")


@login_required
@require_POST
def check_domain(request, pk: int):
    provider = get_object_or_404(EmailProvider, pk=pk)
    domain_check, _ = DomainCheck.objects.get_or_create(provider=provider)
    form = DkimSelectorForm(request.POST, instance=domain_check)
    if not form.is_valid():
        messages.error(request, form.errors["dkim_selector"][0])
        return redirect("providers:detail", pk=provider.pk)
    domain_check = form.save()
    domain_checks.check_domain(domain_check)
    messages.success(request, "Sending domain checked.")
    return redirect("providers:detail", pk=provider.pk)
