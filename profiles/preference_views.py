"""The system preference center: public pages reached from signed links in every email."""

from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import services
from .forms import PreferencesForm
from .models import Profile
from .preference_links import read_token

ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")


class LinkRefused(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def email_from_token(token: str) -> str:
    """The address a link was made for; LinkRefused(410) when expired, (400) when not ours."""
    try:
        return read_token(token)
    except signing.SignatureExpired as exc:
        raise LinkRefused(410) from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkRefused(400) from exc


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is a credential for this address: keep it out of referrers,
    # search engines and shared caches.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused_page(request, status: int) -> HttpResponse:
    return _private(
        render(request, "profiles/link_refused.html", {"expired": status == 410}, status=status)
    )


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    try:
        email = email_from_token(token)
    except LinkRefused as refused:
        return _refused_page(request, refused.status)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.update_preferences(
                email,
                unsubscribed_categories=form.unsubscribed_categories(),
                unsubscribe_all=form.cleaned_data["unsubscribe_all"],
            )
            messages.success(request, "Your email preferences are saved.")
            return redirect("profiles:preferences", token=token)
    profile = Profile.objects.filter(email=email).first()
    if request.method == "GET":
        form = PreferencesForm.for_profile(profile)
    context = {
        "form": form,
        "email": email,
        "profile": profile,
        "suppressed_for_delivery": (
            profile is not None
            and not profile.is_active
            and profile.inactive_reason != Profile.Reason.UNSUBSCRIBED
        ),
    }
    return _private(render(request, "profiles/preferences.html", context))


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def one_click_unsubscribe(request, token):
    """RFC 8058 one-click unsubscribe: the mailbox provider POSTs List-Unsubscribe=One-Click.

    No cookies, no CSRF token and no page: the answer is a plain 200. A person who opens the
    link in a browser (a GET) is sent to the preference center instead, so link scanners that
    prefetch URLs never unsubscribe anyone.
    """
    try:
        email = email_from_token(token)
    except LinkRefused as refused:
        if request.method == "GET":
            return _refused_page(request, refused.status)
        message = "This link has expired." if refused.status == 410 else "Invalid link."
        return HttpResponse(message, status=refused.status, content_type="text/plain")
    if request.method == "GET":
        return redirect("profiles:preferences", token=token)
    try:
        value = request.POST.get(ONE_CLICK_BODY[0], "")
    except MultiPartParserError:
        value = ""
    if value.strip() != ONE_CLICK_BODY[1]:
        return HttpResponse(
            "Expected the body List-Unsubscribe=One-Click.", status=400, content_type="text/plain"
        )
    services.unsubscribe_from_all(email, method="one-click")
    return _private(HttpResponse("You are unsubscribed.", content_type="text/plain"))
