"""Django admin: providers (secrets masked, dashboard validation), test emails, audit trail."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from providers.models import EmailProvider, TestEmail
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:providers_emailprovider_changelist"


def _change_data(provider, **overrides):
    data = {
        "nickname": provider.nickname,
        "host": provider.host,
        "port": provider.port,
        "scheme": provider.scheme,
        "username": provider.username,
        "secret": "",
        "from_name": provider.from_name,
        "from_address": provider.from_address,
        "reply_to_address": "",
        "preference_center": "none",
        "preference_center_url": "",
    }
    data.update(overrides)
    return data


def test_changelist_shows_kind_default_and_created_and_searches(admin_client_logged_in):
    EmailProviderFactory(nickname="Alpha relay", is_default=True)
    EmailProviderFactory(nickname="Beta grid", sendgrid=True)
    response = admin_client_logged_in.get(reverse(CHANGELIST))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alpha relay" in html and "Beta grid" in html
    assert "column-kind" in html and "column-is_default" in html and "column-created_at" in html
    found = admin_client_logged_in.get(reverse(CHANGELIST), {"q": "beta"})
    assert "Beta grid" in found.content.decode()
    assert "Alpha relay" not in found.content.decode()


def test_admin_pages_never_render_the_secret(admin_client_logged_in):
    provider = EmailProviderFactory(secret="admin-hidden-secret-7788")
    for url in (
        reverse(CHANGELIST),
        reverse("admin:providers_emailprovider_change", args=[provider.pk]),
        reverse("admin:providers_emailprovider_history", args=[provider.pk]),
    ):
        html = admin_client_logged_in.get(url).content.decode()
        assert "admin-hidden-secret-7788" not in html
        assert provider.secret_encrypted not in html
    change = admin_client_logged_in.get(
        reverse("admin:providers_emailprovider_change", args=[provider.pk])
    ).content.decode()
    assert "••••7788" in change
    assert 'type="password"' in change


def test_admin_edit_keeps_secret_when_blank_and_logs_no_value(admin_client_logged_in):
    provider = EmailProviderFactory(secret="keep-admin-secret-1234")
    url = reverse("admin:providers_emailprovider_change", args=[provider.pk])
    response = admin_client_logged_in.post(url, _change_data(provider, from_name="Changed"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.from_name == "Changed"
    assert provider.secret == "keep-admin-secret-1234"

    admin_client_logged_in.post(url, _change_data(provider, secret="replaced-admin-secret-9"))
    provider.refresh_from_db()
    assert provider.secret == "replaced-admin-secret-9"
    for entry in LogEntry.objects.all():
        assert "secret-" not in entry.change_message


def test_admin_uses_the_dashboard_validation(admin_client_logged_in):
    provider = EmailProviderFactory(nickname="Kept")
    EmailProviderFactory(nickname="Taken")
    url = reverse("admin:providers_emailprovider_change", args=[provider.pk])
    response = admin_client_logged_in.post(
        url, _change_data(provider, nickname="taken", host="smtp://bad", port="0")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"nickname", "host", "port"} <= set(errors)
    provider.refresh_from_db()
    assert provider.nickname == "Kept"


def test_admin_add_asks_for_the_kind_then_uses_its_form(admin_client_logged_in):
    add = reverse("admin:providers_emailprovider_add")
    chooser = admin_client_logged_in.get(add)
    assert chooser.status_code == 200
    assert b"?kind=gmail" in chooser.content
    response = admin_client_logged_in.post(
        add + "?kind=gmail",
        {
            "nickname": "Admin Gmail",
            "username": "team@gmail.com",
            "secret": "abcd efgh ijkl mnop",
            "from_address": "",
            "preference_center": "none",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = EmailProvider.objects.get()
    assert (provider.kind, provider.host, provider.port) == ("gmail", "smtp.gmail.com", 465)
    assert provider.secret == "abcdefghijklmnop"
    assert provider.is_default  # the first one, even when added in admin


def test_admin_delete_of_the_default_moves_the_mark(admin_client_logged_in):
    default = EmailProviderFactory(is_default=True)
    other = EmailProviderFactory()
    url = reverse("admin:providers_emailprovider_delete", args=[default.pk])
    admin_client_logged_in.post(url, {"post": "yes"})
    assert list(EmailProvider.objects.all()) == [other]
    other.refresh_from_db()
    assert other.is_default


def test_admin_mark_default_action(admin_client_logged_in, staff_user):
    EmailProviderFactory(is_default=True)
    chosen = EmailProviderFactory()
    admin_client_logged_in.post(
        reverse(CHANGELIST),
        {"action": "mark_as_default", "_selected_action": [chosen.pk]},
    )
    chosen.refresh_from_db()
    assert chosen.is_default
    assert LogEntry.objects.get().user == staff_user


def test_test_email_admin_is_read_only_and_shows_the_transcript(admin_client_logged_in):
    provider = EmailProviderFactory()
    test_email = TestEmail.objects.create(
        provider=provider,
        recipient="check@example.org",
        status=TestEmail.Status.FAILED,
        failure_reason=TestEmail.FailureReason.AUTH_FAILED,
        transcript="EHLO postdesk\n535 5.7.8 Authentication failed",
    )
    listing = admin_client_logged_in.get(reverse("admin:providers_testemail_changelist"))
    html = listing.content.decode()
    assert "check@example.org" in html and "Authentication failed" in html
    change_url = reverse("admin:providers_testemail_change", args=[test_email.pk])
    page = admin_client_logged_in.get(change_url).content.decode()
    assert "535 5.7.8 Authentication failed" in page
    assert 'name="recipient"' not in page
    assert admin_client_logged_in.get(reverse("admin:providers_testemail_add")).status_code == 403
    admin_client_logged_in.post(change_url, {"recipient": "changed@example.org"})
    test_email.refresh_from_db()
    assert test_email.recipient == "check@example.org"


def test_audit_trail_lists_provider_changes_with_who_and_when(client_logged_in, user, staff_user):
    from django.test import Client

    provider = EmailProviderFactory()
    client_logged_in.post(reverse("providers:mark_default", args=[provider.pk]))
    admin = Client()
    admin.force_login(staff_user)
    response = admin.get(reverse("admin:providers_providerauditentry_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert user.username in html
    assert provider.nickname in html
    assert "Marked as the default provider." in html
    assert "1 provider audit entry" in html
    assert "provider audit trail" not in html.lower()  # the list counts entries, not trails
    entry = LogEntry.objects.get()
    assert (
        admin.get(reverse("admin:providers_providerauditentry_delete", args=[entry.pk])).status_code
        == 403
    )
