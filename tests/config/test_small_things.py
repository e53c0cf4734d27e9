"""Wording and small fixes a newcomer, a recipient and an admin meet first."""

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from profiles.models import TimelineEvent
from providers.forms.netcore import NetcoreProviderForm
from providers.forms.smtp import SmtpProviderForm
from tests.factories import EmailProviderFactory, ProfileFactory

pytestmark = pytest.mark.django_db

SMTP_POST = {
    "nickname": "Relay",
    "host": "smtp.acme.example",
    "port": "587",
    "scheme": "starttls",
    "username": "mailer",
    "secret": "typed-password-1234",
    "from_address": "news@acme.example",
    "preference_center": "custom",
    "preference_center_url": "not a web address",
}


def test_a_bad_preference_center_url_gets_one_clear_error():
    form = SmtpProviderForm(data=SMTP_POST)
    assert form.errors["preference_center_url"] == [
        "Enter a full web address, such as https://example.com/preferences."
    ]


def test_netcore_form_offers_one_unsubscribe_page_choice():
    form = NetcoreProviderForm()
    assert "unsubscribe_page_url" not in form.fields
    assert str(form.fields["preference_center"].label) == "Unsubscribe Page"
    assert [value for value, _ in form.fields["preference_center"].choices] == [
        "none",
        "system",
        "custom",
    ]


def test_a_typed_secret_must_be_typed_again_after_an_error(client_logged_in):
    response = client_logged_in.post(reverse("providers:create", args=["smtp"]), SMTP_POST)
    page = response.content.decode()
    assert response.status_code == 200
    assert "typed-password-1234" not in page
    assert 'id="secret-retype"' in page
    assert "type the Password again" in page


def test_the_stored_secret_is_named_as_the_form_names_it(client_logged_in):
    provider = EmailProviderFactory(netcore=True, secret="netcore-key-4321")
    page = client_logged_in.get(reverse("providers:edit", args=[provider.pk])).content.decode()
    assert "API Key on file: ends in ••••4321" in page
    assert "api key" not in page


def test_mark_as_default_is_worded_as_the_documents_word_it(client_logged_in):
    EmailProviderFactory(nickname="First")
    second = EmailProviderFactory(nickname="Second")
    listing = client_logged_in.get(reverse("providers:list")).content.decode()
    detail = client_logged_in.get(reverse("providers:detail", args=[second.pk])).content.decode()
    for page in (listing, detail):
        assert "Mark as Default" in page
        assert "Mark as default" not in page


def test_deleting_a_provider_without_test_emails_does_not_count_zero_records(client_logged_in):
    provider = EmailProviderFactory()
    page = client_logged_in.get(reverse("providers:delete", args=[provider.pk])).content.decode()
    assert "0 test email records" not in page
    assert "Its delivery stats and callback log are removed with it." in page


def test_one_profile_made_inactive_is_singular(admin_client_logged_in):
    ProfileFactory(soft_bounce_count=2, soft_bounce_since=timezone.now())
    response = admin_client_logged_in.post(
        reverse("callbacks:policy"),
        {"threshold": "2", "window_days": "14", "action": "save"},
        follow=True,
    )
    assert "Soft bounce policy saved. 1 profile was made Inactive." in response.content.decode()
    response = admin_client_logged_in.post(
        reverse("callbacks:policy"),
        {"threshold": "2", "window_days": "14", "action": "save"},
        follow=True,
    )
    assert "Soft bounce policy saved. No profile was made Inactive." in response.content.decode()


def test_rotating_one_callback_url_in_admin_is_singular(admin_client_logged_in):
    provider = EmailProviderFactory()
    response = admin_client_logged_in.post(
        reverse("admin:providers_emailprovider_changelist"),
        {"action": "rotate_callback_urls", "_selected_action": [provider.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Rotated 1 callback URL; the old URL no longer accepts events." in page
    assert "URL(s)" not in page


def test_timeline_types_read_alike_whoever_wrote_them(client_logged_in):
    profile = ProfileFactory()
    for type_ in ("unsubscribed", "Unsubscribed"):
        TimelineEvent.objects.create(
            profile=profile,
            kind=TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED,
            occurred_at=timezone.now(),
            properties={"Type": type_},
        )
    page = client_logged_in.get(reverse("profiles:detail", args=[profile.pk])).content.decode()
    assert page.count("Type:</span> Unsubscribed") == 2
    assert "Type:</span> unsubscribed" not in page


@pytest.mark.parametrize("name", ["callbacks:policy", "callbacks:log"])
def test_policy_and_callback_log_pages_have_breadcrumbs(admin_client_logged_in, name):
    args = [EmailProviderFactory().pk] if name == "callbacks:log" else []
    page = admin_client_logged_in.get(reverse(name, args=args)).content.decode()
    assert 'aria-label="breadcrumb"' in page
    assert '<li class="breadcrumb-item">Settings</li>' in page


def test_favicon_is_served(live_server):
    response = httpx.get(live_server.url + "/favicon.ico", follow_redirects=True, timeout=10)
    assert response.status_code == 200
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    icon = httpx.get(live_server.url + "/static/favicon.svg", timeout=10)
    assert icon.status_code == 200 and b"<svg" in icon.content


def test_every_page_links_the_icon(client):
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
