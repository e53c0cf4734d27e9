"""Views for "Send test email" (form, live result page, JSON status) and "Test connection"."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from profiles.models import Profile, normalize_email
from providers import audit
from providers.connection_check import check_provider_settings
from providers.models import EmailProvider, TestEmail
from providers.sending import enqueue_test_email, mark_stale, revive_if_lost

# Form fields that do not affect a connection; their errors do not block "Test connection".
NOT_CONNECTION_FIELDS = {"nickname", "callback_signature"}
MAX_EVENTS_SHOWN = 100


class TestEmailForm(forms.Form):
    recipient = forms.EmailField(
        label="Recipient",
        help_text="Use an address you can read; test emails never change a profile.",
    )


TestEmailForm.__test__ = False  # not a pytest test class


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
def send_test_email(request, pk):
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
            enqueue_test_email(test_email)  # the view runs in autocommit: publishes now
            test_email.refresh_from_db()
            if test_email.failure_reason == TestEmail.FailureReason.QUEUE_UNAVAILABLE:
                messages.error(request, "The test email could not be queued.")
            else:
                messages.success(request, f"Test email to {test_email.recipient} queued.")
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
    test_email = get_object_or_404(
        TestEmail.objects.select_related("provider", "requested_by"), pk=pk
    )
    mark_stale(test_email)
    revive_if_lost(test_email)
    return test_email


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


@sensitive_post_parameters("secret")  # the typed password or API key: masked in error reports
@login_required
@require_POST
@sensitive_variables("form", "typed_secret")
def test_connection(request):
    """Check the settings typed in the provider form, saved or not; never sends mail.

    Posted: the provider form's fields plus ``_kind`` and, when editing, ``_provider``. A
    blank secret falls back to the stored one.
    """
    from providers.forms import form_class_for

    kind = request.POST.get("_kind", "")
    try:
        form_class = form_class_for(kind)
    except KeyError:
        return HttpResponseBadRequest("Unknown provider kind.")
    provider = None
    if request.POST.get("_provider"):
        provider = get_object_or_404(EmailProvider, pk=request.POST["_provider"], kind=kind)
    form = form_class(request.POST, instance=provider)
    form.is_valid()
    errors = {
        name: [str(error) for error in field_errors]
        for name, field_errors in form.errors.items()
        if name not in NOT_CONNECTION_FIELDS
    }
    if errors:
        return JsonResponse({"ok": False, "steps": [], "errors": errors})
    candidate = form.instance  # the typed values, never saved here
    form.apply_kind(candidate)
    typed_secret = form.cleaned_data.get("secret") or None
    report = check_provider_settings(candidate, secret=typed_secret)
    if provider is not None:
        audit.record_connection_test(
            request.user, provider, report.destination, report.failed_step, bool(typed_secret)
        )
    return JsonResponse({"errors": {}, **report.as_dict(with_transcript=request.user.is_staff)})
