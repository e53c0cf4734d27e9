"""Settings > Email > Providers: list, add, detail, edit, delete, mark default, rotate URL."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from common.permissions import staff_required

from . import audit
from .forms import ProviderForm, form_for
from .forms.actions import ChooseKindForm, DeleteProviderForm
from .models import EmailProvider

# The form field that carries a password or API key; masked in Django's error reports.
SECRET_FIELDS = ("secret", "webhook_signing_key")


def _posted(request: HttpRequest):
    """The POST data for a form, even when empty (an empty POST still submits it)."""
    return request.POST if request.method == "POST" else None


def _kind_or_404(kind: str) -> type[ProviderForm]:
    try:
        return form_for(kind)
    except KeyError:
        raise Http404("Unknown provider kind.") from None


@login_required
def provider_list(request: HttpRequest) -> HttpResponse:
    providers = EmailProvider.objects.with_recent_bounces().order_by("-is_default", "nickname")
    return render(request, "providers/provider_list.html", {"providers": providers})


@login_required
def provider_choose_kind(request: HttpRequest) -> HttpResponse:
    form = ChooseKindForm(request.GET or None)
    if form.is_valid():
        return redirect("providers:create", kind=form.cleaned_data["kind"])
    return render(
        request,
        "providers/provider_choose_kind.html",
        {"form": form, "kinds": EmailProvider.Kind},
    )


def _render_form(request, form: ProviderForm, provider: EmailProvider | None):
    context = {
        "form": form,
        "provider": provider,
        "kind": form.kind,
        "kind_label": EmailProvider.Kind(form.kind).label,
        "callback_url": form.instance.callback_url,
        "secret_hint": form.secret_hint(),
    }
    return render(request, "providers/provider_form.html", context)


def _nickname_taken(form: ProviderForm) -> None:
    form.add_error(
        "nickname", "Another provider already uses this nickname. Choose a different one."
    )


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@sensitive_variables("form")
def provider_create(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = _kind_or_404(kind)
    form = form_class(_posted(request), sign_callback_token=True)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                provider = EmailProvider.objects.add(form.save(commit=False))
                audit.record(request.user, provider, audit.CREATED)
        except IntegrityError:
            _nickname_taken(form)
        else:
            messages.success(request, f"Email provider “{provider.nickname}” added.")
            if provider.is_default:
                messages.info(request, "It is your default provider, as your first one.")
            return redirect("providers:detail", pk=provider.pk)
    return _render_form(request, form, None)


@login_required
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The one-to-one panels (domain check, bounce mailbox) come with the provider's row.
    providers = EmailProvider.objects.select_related("domain_check", "bounce_mailbox")
    provider = get_object_or_404(providers, pk=pk)
    context = {
        "provider": provider,
        "kind_label": provider.get_kind_display(),
        "secret_label": form_for(provider.kind).secret_label,
        "audit_entries": audit.history(provider) if request.user.is_staff else None,
    }
    return render(request, "providers/provider_detail.html", context)


@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
@sensitive_variables("form")
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(EmailProvider, pk=pk)
    form_class = form_for(provider.kind)
    form = form_class(_posted(request), instance=provider)
    if request.method == "POST" and form.is_valid():
        changed = [name for name in form.changed_data if name != "secret"]
        if form.secret_changed:
            changed.append("secret")
        try:
            with transaction.atomic():
                provider = form.save()
                audit.record(request.user, provider, audit.EDITED, changed)
        except IntegrityError:
            _nickname_taken(form)
        else:
            messages.success(request, "Email settings updated successfully")
            return redirect("providers:list")
    return _render_form(request, form, provider)


@login_required
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    providers = EmailProvider.objects.annotate(test_email_count=Count("test_emails"))
    provider = get_object_or_404(providers, pk=pk)
    form = DeleteProviderForm(_posted(request), provider=provider)
    if request.method == "POST" and form.is_valid():
        from callbacks.inbox import apply_waiting_batches  # callbacks imports providers

        nickname = provider.nickname
        try:
            apply_waiting_batches(provider)  # before the deletion's locks: see its docstring
            with transaction.atomic():
                audit.record(request.user, provider, audit.DELETED)
                new_default = EmailProvider.objects.remove(
                    provider, successor=form.cleaned_data.get("successor")
                )
        except ProtectedError:  # an accepted callback batch could not be applied first
            messages.error(
                request,
                f"“{nickname}” was not deleted: callback events it already accepted could not "
                "be applied to profiles yet. Postdesk keeps retrying them; try again later.",
            )
            return redirect("providers:delete", pk=provider.pk)
        messages.success(request, f"Email provider “{nickname}” deleted.")
        if not EmailProvider.objects.exists():
            messages.warning(
                request,
                "No email provider is left: test emails and sends have nothing to go "
                "out through until you add one.",
            )
        elif provider.is_default and new_default is not None:
            messages.info(request, f"“{new_default.nickname}” is now the default provider.")
        return redirect("providers:list")
    context = {
        "provider": provider,
        "form": form,
        "has_other_providers": form.has_other_providers,
        "test_email_count": provider.test_email_count,
    }
    return render(
        request,
        "providers/provider_confirm_delete.html",
        context,
    )


@require_POST
@login_required
def provider_mark_default(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(EmailProvider, pk=pk)
    if provider.is_default:
        messages.info(request, f"“{provider.nickname}” is already the default provider.")
        return redirect("providers:list")
    try:
        with transaction.atomic():
            EmailProvider.objects.mark_default(provider)
            audit.record(request.user, provider, audit.MARKED_DEFAULT)
    except EmailProvider.DoesNotExist:
        raise Http404("This provider no longer exists.") from None
    messages.success(request, f"“{provider.nickname}” is now the default provider.")
    return redirect("providers:list")


def posts_fragments(provider: EmailProvider) -> list[str]:
    """Who posts to the callback URL, for the rotate page: the kind's own words, else an ESP's."""
    return [f"providers/kinds/_posts_{provider.kind}.html", "providers/kinds/_posts_esp.html"]


@require_http_methods(["GET", "POST"])
@staff_required("Only admins can rotate a callback URL.")
def provider_rotate_callback(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page, saying the current URL dies at once; POST: rotate."""
    provider = get_object_or_404(EmailProvider, pk=pk)
    if request.method != "POST":
        context = {"provider": provider, "posts_fragments": posts_fragments(provider)}
        return render(request, "providers/provider_confirm_rotate.html", context)
    with transaction.atomic():
        provider.rotate_callback_token()
        audit.record(request.user, provider, audit.ROTATED_CALLBACK)
    messages.success(
        request,
        "New callback URL generated. The old one no longer accepts events: paste the new "
        "one into your ESP's webhook settings.",
    )
    return redirect("providers:detail", pk=provider.pk)
