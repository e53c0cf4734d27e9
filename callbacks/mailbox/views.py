"""The "Bounce mailbox" page of an SMTP or Gmail provider: settings, Test mailbox, Poll now."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from callbacks.mailbox.client import check_mailbox
from callbacks.mailbox.forms import BounceMailboxForm
from callbacks.mailbox.models import BounceMailbox, defaults_for
from providers.forms.gmail import GMAIL_IMAP_PRESET
from providers.models import EmailProvider

log = logging.getLogger(__name__)


def _provider_with_mailbox(pk: int) -> tuple[EmailProvider, BounceMailbox]:
    provider = get_object_or_404(EmailProvider, pk=pk)
    if not provider.is_smtp:
        raise Http404("Only Generic SMTP and Gmail providers read a bounce mailbox.")
    mailbox = BounceMailbox.objects.filter(provider=provider).first()
    return provider, mailbox or BounceMailbox(provider=provider, **defaults_for(provider))


@sensitive_post_parameters("password")
@login_required
def mailbox_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Show and save the mailbox settings; "Test mailbox" checks the typed ones unsaved."""
    provider, mailbox = _provider_with_mailbox(pk)
    form = BounceMailboxForm(request.POST or None, instance=mailbox)
    steps = None
    if request.method == "POST" and form.is_valid():
        form.apply_password()
        if "test" in request.POST:
            steps = check_mailbox(form.instance)
        else:
            form.save()
            messages.success(request, "Bounce mailbox saved.")
            return redirect("callbacks:mailbox", pk=provider.pk)
    context = {
        "provider": provider,
        "gmail_imap_preset": GMAIL_IMAP_PRESET
        if provider.kind == EmailProvider.Kind.GMAIL
        else None,
        "mailbox": mailbox,
        "form": form,
        "steps": steps,
        "checked_ok": steps is not None and all(step.ok is not False for step in steps),
    }
    return render(request, "callbacks/bounce_mailbox.html", context)


@login_required
@require_POST
def mailbox_poll_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a poll of the mailbox at once."""
    from callbacks.tasks import poll_bounce_mailbox

    provider, mailbox = _provider_with_mailbox(pk)
    if mailbox.pk is None:
        raise Http404("This provider has no bounce mailbox.")
    try:
        poll_bounce_mailbox.delay(mailbox.pk)
        messages.success(request, "The mailbox will be read in a moment.")
    except Exception as exc:  # the broker is down: say so, the next scheduled poll reads it
        log.warning("Could not queue a poll of bounce mailbox %s: %s", mailbox.pk, exc)
        messages.error(request, "The poll could not be queued; the scheduled poll will run.")
    return redirect("providers:detail", pk=provider.pk)
