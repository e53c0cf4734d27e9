"""The system preference center: public pages reached from signed links in every email."""

from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import services
from .forms import PreferencesForm
from .models import Profile
from .preference_links import PreferenceLink, read_link

ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")


class LinkRefused(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def link_from_token(token: str) -> PreferenceLink:
    """What a link was made for; LinkRefused(410) when expired, (400) when not ours."""
    try:
        return read_link(token)
    except signing.SignatureExpired as exc:
        raise LinkRefused(410) from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkRefused(400) from exc


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is a credential for this address: keep it out of other sites'
    # referrers, search engines and shared caches. "same-origin", not "no-referrer": with no
    # referrer the browser posts the page's own form with "Origin: null", which the CSRF
    # check refuses.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused_page(request, status: int) -> HttpResponse:
    return _private(
        render(request, "profiles/link_refused.html", {"expired": status == 410}, status=status)
    )


def _test_link_page(request, link: PreferenceLink) -> HttpResponse:
    return _private(render(request, "profiles/test_email_link.html", {"email": link.email}))


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    try:
        link = link_from_token(token)
    except LinkRefused as refused:
        return _refused_page(request, refused.status)
    if link.is_test:
        return _test_link_page(request, link)
    email = link.email
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.update_preferences(
                email,
                unsubscribed_categories=form.unsubscribed_categories(),
                unsubscribe_all=form.cleaned_data["unsubscribe_all"],
            )
            if form.cleaned_data["unsubscribe_all"]:
                messages.success(request, "You are unsubscribed from all email from us.")
            else:
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
        "unsubscribed_from_all": (
            profile is not None
            and not profile.is_active
            and profile.inactive_reason == Profile.Reason.UNSUBSCRIBED
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
    prefetch URLs never unsubscribe anyone. A test email's link answers 200 and changes
    nothing.
    """
    try:
        link = link_from_token(token)
    except LinkRefused as refused:
        if request.method == "GET":
            return _refused_page(request, refused.status)
        message = "This link has expired." if refused.status == 410 else "Invalid link."
        return HttpResponse(message, status=refused.status, content_type="text/plain")
    if request.method == "GET":
        return redirect("profiles:preferences", token=token)
    if link.is_test:
        return _private(HttpResponse("A test email: nothing changed.", content_type="text/plain"))
    try:
        value = request.POST.get(ONE_CLICK_BODY[0], "")
    except MultiPartParserError:
        value = ""
    if value.strip() != ONE_CLICK_BODY[1]:
        return HttpResponse(
            "Expected the body List-Unsubscribe=One-Click.", status=400, content_type="text/plain"
        )
    services.unsubscribe_from_all(link.email, method="one-click")
    return _private(HttpResponse("You are unsubscribed.", content_type="text/plain"))


PUBLIC_FORMS = {"profiles:preferences"}


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """settings.CSRF_FAILURE_VIEW: a recipient's page for the public forms, Django's elsewhere.

    A recipient whose form fails the CSRF check (the page was open for long, cookies are
    blocked) sees what happened and how to try again, never Django's 403 or debug page.
    """
    match = request.resolver_match
    if match is None or match.view_name not in PUBLIC_FORMS:
        return csrf.csrf_failure(request, reason)
    return _private(
        render(request, "profiles/form_refused.html", {"retry_url": request.path}, status=403)
    )
