"""The "Test connection" view: checks the settings typed in a provider form."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from providers import audit
from providers.connection_check import check_provider_settings
from providers.forms import form_for
from providers.models import EmailProvider

# Form fields that do not affect a connection; their errors do not block "Test connection".
NOT_CONNECTION_FIELDS = {"nickname", "callback_signature"}


@sensitive_post_parameters("secret", "webhook_signing_key")  # typed secrets: masked in reports
@login_required
@require_POST
@sensitive_variables("form", "typed_secret")
def test_connection(request):
    """Check the settings typed in the provider form, saved or not; never sends mail.

    Posted: the provider form's fields plus ``_kind`` and, when editing, ``_provider``. A
    blank secret falls back to the stored one.
    """
    kind = request.POST.get("_kind", "")
    try:
        form_class = form_for(kind)
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
