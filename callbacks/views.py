"""The sample-callback button, the callback log and the soft-bounce policy page."""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from common.permissions import staff_required
from profiles.suppression import profiles_meeting_policy
from providers.models import EmailProvider

from . import services
from .formats import formats_for
from .forms import SoftBouncePolicyForm, made_inactive_message
from .models import SoftBouncePolicy
from .receive import process_callback


@login_required
@require_POST
def send_sample(request, pk):
    """Run a sample callback in the provider's own format through the real endpoint code."""
    provider = get_object_or_404(EmailProvider, pk=pk)
    body = formats_for(provider).sample_format.sample_for(provider)
    outcome = process_callback(provider, body, {}, is_sample=True)
    if outcome.status == 200:
        messages.success(
            request,
            f"Sample callback accepted ({outcome.status}): {outcome.processed} events "
            f"processed, {outcome.ignored} ignored. No profile was changed.",
        )
    else:
        messages.error(
            request, f"Sample callback refused ({outcome.status}): {outcome.body.get('message')}"
        )
    return redirect("providers:detail", pk=provider.pk)


@login_required
def callback_log(request, pk):
    provider = get_object_or_404(EmailProvider, pk=pk)
    logs = provider.callback_logs.select_related("pending").defer("pending__body")[:100]
    return render(request, "callbacks/callback_log.html", {"provider": provider, "logs": logs})


@staff_required("Only admins can change the soft bounce policy.")
def soft_bounce_policy(request):
    """Edit the soft-bounce policy; saving first shows how many profiles it would affect."""
    policy = SoftBouncePolicy.current()
    # The form edits its own copy, so the page keeps showing the saved policy while previewing.
    form = SoftBouncePolicyForm(request.POST or None, instance=copy.copy(policy))
    preview = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "save":
            affected = services.save_policy(form.save(commit=False))
            summary = made_inactive_message(affected)
            messages.success(request, f"Soft bounce policy saved. {summary}")
            return redirect("callbacks:policy")
        new = form.cleaned_data
        preview = profiles_meeting_policy(new["threshold"], new["window_days"]).count()
    return render(
        request, "callbacks/policy.html", {"policy": policy, "form": form, "preview": preview}
    )
