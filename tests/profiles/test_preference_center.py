import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from profiles import preference_links
from profiles.categories import Category
from profiles.models import Profile, TimelineEvent
from tests.factories import ProfileFactory


def pref_url(email="reader@example.com") -> str:
    return reverse("profiles:preferences", args=[preference_links.make_token(email)])


def one_click_url(email="reader@example.com") -> str:
    return reverse("profiles:one_click_unsubscribe", args=[preference_links.make_token(email)])


# Links last 90 days unless PREFERENCE_LINK_MAX_AGE_SECONDS says otherwise.
DEFAULT_MAX_AGE_SECONDS = 60 * 60 * 24 * 90


def expired_token(email="reader@example.com", age=DEFAULT_MAX_AGE_SECONDS + 60) -> str:
    """A token signed `age` seconds ago."""
    signer = signing.TimestampSigner(salt=preference_links.SALT)
    past = time.time() - age
    signer.timestamp = lambda: signing.b62_encode(int(past))
    return signer.sign_object({"e": email}, compress=True)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


# --- The signed link ----------------------------------------------------------------------


def test_links_are_absolute_and_round_trip(settings):
    settings.SITE_URL = "https://postdesk.example"
    url = preference_links.preference_center_url("Reader@Example.com")
    assert url.startswith("https://postdesk.example/profiles/preferences/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert preference_links.read_token(token) == "reader@example.com"


@pytest.mark.django_db
def test_valid_link_shows_the_page_without_login(client):
    response = client.get(pref_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert "reader@example.com" in body
    for category in Category:
        assert category.label in body
    # Not "no-referrer": that makes the browser post the page's form with "Origin: null".
    assert response["Referrer-Policy"] == "same-origin"
    assert not Profile.objects.exists()  # looking changes nothing


@pytest.mark.django_db
def test_tampered_link_is_refused_politely(client):
    token = preference_links.make_token("reader@example.com")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get(reverse("profiles:preferences", args=[tampered]))
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    garbage = client.get(reverse("profiles:preferences", args=["not-a-token"]))
    assert garbage.status_code == 400


@pytest.mark.django_db
def test_expired_link_is_refused_politely(client):
    response = client.get(reverse("profiles:preferences", args=[expired_token()]))
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    post = client.post(reverse("profiles:preferences", args=[expired_token()]), {})
    assert post.status_code == 410
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_link_max_age_is_a_setting(client, settings):
    url = reverse("profiles:preferences", args=[expired_token(age=3600)])
    assert client.get(url).status_code == 200
    settings.PREFERENCE_LINK_MAX_AGE_SECONDS = 60
    assert client.get(url).status_code == 410


# --- The page --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unsubscribe_from_all_creates_and_suppresses_unknown_address(csrf_client):
    url = pref_url("new@example.com")
    page = csrf_client.get(url)
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(
        url,
        {"categories": Category.values, "unsubscribe_all": "on", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302

    profile = Profile.objects.get(email="new@example.com")
    assert profile.status == Profile.Status.INACTIVE
    assert profile.inactive_reason == Profile.Reason.UNSUBSCRIBED
    assert profile.inactive_since is not None
    event = TimelineEvent.objects.get(profile=profile)
    assert event.kind == TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED
    assert event.properties["reason"] == "preference center"
    assert event.properties["Type"] == "unsubscribed"

    again = csrf_client.get(response["Location"])
    assert "You are unsubscribed from all email from us." in again.content.decode()
    assert again.context["form"].initial["unsubscribe_all"] is True
    assert again.context["unsubscribed_from_all"] is True
    assert "we send no email to this address" in again.content.decode()


@pytest.mark.django_db
def test_choosing_categories_records_them_and_keeps_the_address_active(client):
    profile = ProfileFactory(email="reader@example.com")
    response = client.post(pref_url(), {"categories": [Category.NEWSLETTERS]})
    assert response.status_code == 302

    profile.refresh_from_db()
    assert profile.status == Profile.Status.ACTIVE
    assert profile.unsubscribed_categories == [Category.PRODUCT_UPDATES, Category.OFFERS]
    # Still subscribed to the channel: a Preferences Updated, not a Channel Unsubscribed
    # (seed 003 raises that when the profile is unsubscribed).
    event = TimelineEvent.objects.get(profile=profile)
    assert event.kind == TimelineEvent.Kind.PREFERENCES_UPDATED
    assert event.properties["reason"] == "preference center"
    assert event.properties["opted_out"] == ["Product updates", "Offers"]

    # Saving the same choice again records nothing new.
    client.post(pref_url(), {"categories": [Category.NEWSLETTERS]})
    assert TimelineEvent.objects.count() == 1

    page = client.get(pref_url())
    assert page.context["form"].initial["categories"] == [Category.NEWSLETTERS]


@pytest.mark.django_db
def test_recipient_can_resubscribe_after_unsubscribing_themselves(client):
    profile = ProfileFactory(
        email="reader@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.UNSUBSCRIBED,
    )
    client.post(pref_url(), {"categories": Category.values})
    profile.refresh_from_db()
    assert profile.is_active
    event = TimelineEvent.objects.get(profile=profile)
    assert event.kind == TimelineEvent.Kind.CHANNEL_RESUBSCRIBED
    assert event.properties["reason"] == "preference center"


@pytest.mark.django_db
def test_bounced_address_stays_inactive_whatever_the_recipient_chooses(client):
    profile = ProfileFactory(
        email="reader@example.com",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.HARD_BOUNCE,
        inactive_detail="550 no such user",
    )
    page = client.get(pref_url())
    assert page.context["suppressed_for_delivery"] is True
    client.post(pref_url(), {"categories": Category.values})
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE
    assert profile.inactive_reason == Profile.Reason.HARD_BOUNCE

    client.post(pref_url(), {"categories": Category.values, "unsubscribe_all": "on"})
    profile.refresh_from_db()
    assert profile.inactive_reason == Profile.Reason.HARD_BOUNCE  # the stronger reason stays
    assert profile.inactive_detail == "550 no such user"
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED).count() == 1


@pytest.mark.django_db
def test_unknown_category_is_a_form_error_not_500(client):
    response = client.post(pref_url(), {"categories": ["bogus"]})
    assert response.status_code == 200
    assert response.context["form"].errors["categories"]
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_page_rejects_other_methods(client):
    assert client.put(pref_url()).status_code == 405


# --- One-click unsubscribe (RFC 8058) ------------------------------------------------------


@pytest.mark.django_db
def test_one_click_unsubscribe_without_cookies_or_csrf(csrf_client):
    profile = ProfileFactory(email="reader@example.com")
    response = csrf_client.post(
        one_click_url(),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.status == Profile.Status.INACTIVE
    assert profile.inactive_reason == Profile.Reason.UNSUBSCRIBED
    event = TimelineEvent.objects.get(profile=profile)
    assert event.kind == TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED
    assert event.properties["reason"] == "one-click unsubscribe"
    assert event.properties["method"] == "one-click"
    assert profile.inactive_detail == "Unsubscribed from all email (one-click unsubscribe)."


@pytest.mark.django_db
def test_one_click_accepts_multipart_and_is_idempotent(client):
    first = client.post(one_click_url("new@example.com"), {"List-Unsubscribe": "One-Click"})
    second = client.post(one_click_url("new@example.com"), {"List-Unsubscribe": "One-Click"})
    assert first.status_code == second.status_code == 200
    profile = Profile.objects.get(email="new@example.com")
    assert profile.inactive_reason == Profile.Reason.UNSUBSCRIBED
    assert TimelineEvent.objects.filter(profile=profile).count() == 1


@pytest.mark.django_db
def test_one_click_without_the_rfc_body_changes_nothing(client):
    response = client.post(
        one_click_url(), data="", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_one_click_with_bad_or_expired_token(client):
    bad = client.post(
        reverse("profiles:one_click_unsubscribe", args=["forged:token"]),
        {"List-Unsubscribe": "One-Click"},
    )
    assert bad.status_code == 400
    expired = client.post(
        reverse("profiles:one_click_unsubscribe", args=[expired_token()]),
        {"List-Unsubscribe": "One-Click"},
    )
    assert expired.status_code == 410
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_opening_the_one_click_link_in_a_browser_unsubscribes_nobody(client):
    token = preference_links.make_token("reader@example.com")
    response = client.get(reverse("profiles:one_click_unsubscribe", args=[token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("profiles:preferences", args=[token])
    assert not Profile.objects.exists()


# --- The form's CSRF check -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_pages_own_form_passes_the_origin_check(csrf_client):
    """What Chromium sends under Referrer-Policy same-origin: the page's own origin."""
    url = pref_url()
    token = csrf_client.get(url).cookies["csrftoken"].value
    response = csrf_client.post(
        url,
        {"categories": Category.values, "unsubscribe_all": "on", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 302
    assert Profile.objects.get(email="reader@example.com").status == Profile.Status.INACTIVE


@pytest.mark.django_db
def test_a_failed_csrf_check_shows_a_recipients_page(csrf_client, settings):
    settings.DEBUG = True  # even then: never Django's debug or 403 page for a recipient
    url = pref_url()
    response = csrf_client.post(url, {"unsubscribe_all": "on"}, HTTP_ORIGIN="null")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Your preferences were not saved" in body
    assert f'href="{url}"' in body
    assert "CSRF" not in body
    assert response["Referrer-Policy"] == "same-origin"
    assert not Profile.objects.exists()


@pytest.mark.django_db
def test_dashboard_forms_keep_djangos_csrf_page(csrf_client):
    response = csrf_client.post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "CSRF verification failed" in response.content.decode()


# --- Links from test emails (seed 003: the unsubscribe link does not work in test emails) ---


def from_test_email(email="reader@example.com", name="profiles:preferences") -> str:
    return reverse(name, args=[preference_links.make_token(email, test=True)])


def test_test_links_are_marked_inside_the_signature():
    token = preference_links.make_token("Reader@Example.com", test=True)
    assert preference_links.read_link(token) == preference_links.PreferenceLink(
        "reader@example.com", is_test=True
    )
    assert not preference_links.read_link(preference_links.make_token("a@b.c")).is_test


@pytest.mark.django_db
def test_a_test_emails_preference_link_says_so_and_changes_nothing(client):
    profile = ProfileFactory(email="reader@example.com")
    page = client.get(from_test_email())
    assert page.status_code == 200
    body = page.content.decode()
    assert "This link came from a test email" in body
    assert "lead to this page instead of the preference center" in body
    assert "show where the real links lead" not in body  # no preference center is shown
    assert "Save preferences" not in body

    posted = client.post(from_test_email(), {"categories": [], "unsubscribe_all": "on"})
    assert posted.status_code == 200
    assert "This link came from a test email" in posted.content.decode()
    profile.refresh_from_db()
    assert profile.is_active
    assert profile.unsubscribed_categories == []
    assert not TimelineEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("exists", [True, False])
def test_one_click_from_a_test_email_answers_200_and_changes_nothing(csrf_client, exists):
    if exists:
        ProfileFactory(email="colleague@example.com")
    response = csrf_client.post(
        from_test_email("colleague@example.com", "profiles:one_click_unsubscribe"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).count() == 0
    assert Profile.objects.count() == int(exists)
    assert not TimelineEvent.objects.exists()
