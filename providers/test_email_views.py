"""Views for "Send test email": the form, the live result page and its JSON status."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from profiles.models import Profile, normalize_email
from providers.forms.test_email import TestEmailForm
from providers.models import EmailProvider, TestEmail
from providers.tasks import enqueue_test_email

MAX_EVENTS_SHOWN = 100


def unconfirmed_inactive_profile(recipient: str, confirmed: str) -> Profile | None:
    """The recipient's profile if it is Inactive and sending to it is not yet confirmed.

    The warning's "Send anyway" button posts the address it named as `confirmed`, so changing
    the recipient after the warning asks again.
    """
    email = normalize_email(recipient)
    if normalize_email(confirmed) == email:
        return None
    return Profile.objects.filter(email=email, status=Profile.Status.INACTIVE).first()


@login_required
def test_email_create(request, pk):
    provider = get_object_or_404(EmailProvider, pk=pk)
    stored_secret_elsewhere = provider.uses_secret and not provider.secret_fits()
    inactive = None
    if request.method == "POST":
        form = TestEmailForm(request.POST)
        if form.is_valid():
            inactive = unconfirmed_inactive_profile(
                form.cleaned_data["recipient"], request.POST.get("send_anyway", "")
            )
        if form.is_valid() and inactive is None and not stored_secret_elsewhere:
            test_email = TestEmail.objects.create(
                provider=provider,
                recipient=form.cleaned_data["recipient"],
                requested_by=request.user,
            )
            if enqueue_test_email(test_email):  # the view runs in autocommit: publishes now
                messages.success(request, f"Test email to {test_email.recipient} queued.")
            else:
                messages.error(request, "The test email could not be queued.")
            return redirect("providers:test_email", test_email.pk)
    else:
        form = TestEmailForm(initial={"recipient": request.user.email})
    context = {
        "provider": provider,
        "form": form,
        "inactive_profile": inactive,
        "stored_secret_elsewhere": stored_secret_elsewhere,
    }
    return render(request, "providers/test_email_form.html", context)


def _load(pk: int) -> TestEmail:
    """The test email, read only: Celery beat fails stale rows and requeues lost ones."""
    return get_object_or_404(TestEmail.objects.select_related("provider", "requested_by"), pk=pk)


@login_required
@require_GET
def test_email_detail(request, pk):
    test_email = _load(pk)
    context = {
        "test_email": test_email,
        "provider": test_email.provider,
        "events": test_email.events.all()[:MAX_EVENTS_SHOWN],  # what its callbacks reported
    }
    return render(request, "providers/test_email_detail.html", context)


@login_required
@require_GET
def test_email_status(request, pk):
    test_email = _load(pk)
    html = render_to_string(
        "providers/test_email_status.html", {"test_email": test_email}, request=request
    )
    return JsonResponse(
        {
            "id": test_email.pk,
            "status": test_email.status,
            "status_label": test_email.get_status_display(),
            "is_finished": test_email.is_finished,
            "failure_reason": test_email.failure_reason,
            "failure_reason_label": test_email.get_failure_reason_display(),
            "failure_detail": test_email.failure_detail,
            "esp_status_code": test_email.esp_status_code,
            "esp_message_id": test_email.esp_message_id,
            "attempts": test_email.attempts,
            "duration_ms": test_email.duration_ms,
            "html": html,
        }
    )
