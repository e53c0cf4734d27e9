"""Every page fits a 390-px phone screen: no sideways scrolling of the whole page.

Wide tables may scroll inside their own box (Bootstrap's .table-responsive); the page itself
must not be wider than the screen. The walk covers every dashboard page, Django admin's main
pages and the public pages, with data that makes them as wide as they get in use.
"""

import json

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from callbacks.mailbox.models import BounceMailbox
from callbacks.models import CallbackLog
from callbacks.receive import loggable_excerpt
from profiles.models import Profile, ProfileExport, ProfileImport, TimelineEvent
from profiles.preference_links import make_token
from providers import audit
from providers.models import EmailProvider, TestEmail
from tests.factories import EmailProviderFactory, ProfileFactory
from tests.url_walk import dashboard_urls

PHONE = {"width": 390, "height": 844}
LONG_ADDRESS = "campaign-notifications.department@marketing.example-company.com"
POST_ONLY = {
    "providers:mark_default",
    "providers:rotate_callback",
    "providers:test_connection",
    "callbacks:sample",
    "callbacks:mailbox_poll",
    "deliverability:acknowledge",
    "deliverability:check_domain",
}
NOT_HTML = {
    "providers:test_email_status",
    "profiles:import_progress",
    "profiles:export_progress",
    "profiles:export_download",
}


def compact_sendgrid_body(events: int) -> str:
    """A SendGrid batch as SendGrid posts it: compact JSON, the address after the ids."""
    item = {
        "sg_event_id": "ZmFjZWJvb2stZXZlbnQtaWQtMDAwMDAwMDAwMDAwMDAwMA",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "timestamp": 1_700_000_000,
        "event": "bounce",
        "email": "someone@example.org",
    }
    return json.dumps([item] * events, separators=(",", ":"))


@pytest.fixture
def wide_data(marketer):
    """Providers of every kind and the records that fill the wider pages."""
    smtp = EmailProviderFactory(nickname="Newsletter relay (EU)", from_address=LONG_ADDRESS)
    EmailProviderFactory(gmail=True, nickname="Support Gmail")
    sendgrid = EmailProviderFactory(
        sendgrid=True, nickname="SendGrid marketing", from_address=LONG_ADDRESS
    )
    EmailProviderFactory(netcore=True, nickname="Netcore transactional")
    EmailProvider.objects.mark_default(smtp)
    TestEmail.objects.create(provider=smtp, recipient=LONG_ADDRESS, requested_by=marketer)
    CallbackLog.objects.create(
        provider=smtp,
        status_code=200,
        payload_format="sendgrid",
        events_total=1001,
        processed=1001,
        body_excerpt=loggable_excerpt(compact_sendgrid_body(1001).encode()),
    )
    for provider in (smtp, sendgrid):
        add_audit_entries(marketer, provider)
        add_callback_rows(provider)
    profile = ProfileFactory(email=LONG_ADDRESS)
    Profile.objects.filter(pk=profile.pk).update(status=Profile.Status.INACTIVE)
    TimelineEvent.objects.create(
        profile=profile,
        kind=TimelineEvent.Kind.NOTIFICATION_FAILED,
        occurred_at=timezone.now(),
        provider_name=smtp.nickname,
        properties={"Type": "Hard Bounce", "Error": "550 5.1.1 mailbox unavailable " * 3},
    )
    BounceMailbox.objects.create(
        provider=smtp,
        host="imap.newsletter-relay.example.com",
        username=LONG_ADDRESS,
        last_error="MailboxError: " + "the server refused the login for this account " * 4,
    )
    ProfileImport.objects.create(created_by=marketer, filename="contacts-2026.csv")
    ProfileExport.objects.create(created_by=marketer, status=ProfileExport.Status.DONE)
    return {"profile": profile, "smtp": smtp}


def add_audit_entries(user, provider: EmailProvider) -> None:
    """Audit entries with the longest words they carry: field labels, hosts and API bases."""
    audit.record(user, provider, audit.CREATED)
    audit.record(
        user, provider, audit.EDITED, ["nickname", "from_address", "preference_center_url"]
    )
    audit.record(user, provider, audit.ROTATED_CALLBACK)
    for destination in ("https://api.sendgrid-eu.example-company.com/v3", LONG_ADDRESS):
        audit.record_connection_test(user, provider, destination, "Authentication", True)


def add_callback_rows(provider: EmailProvider) -> None:
    """Callback requests of every status: applied, waiting, rejected, failed, a sample."""
    rows = [
        {"status_code": 200, "events_total": 12, "processed": 11, "failed": 1, "duplicates": 5},
        {"status_code": 200, "events_total": 1000, "processed": 1000},  # waiting
        {"status_code": 401, "error": "Signature verification failed: " + "x" * 120},
        {"status_code": 400, "error": "Unreadable JSON: Expecting value at line 1 column 1"},
        {"status_code": 413, "error": "Request body larger than 10485760 bytes."},
        {"status_code": 200, "events_total": 3, "processed": 3, "is_sample": True},
    ]
    now = timezone.now()
    for row in rows:
        applied = None if row.get("events_total") == 1000 else now
        CallbackLog.objects.create(
            provider=provider, payload_format="generic_v2", applied_at=applied, **row
        )


def ids_for(name: str) -> list[int]:
    if name == "callbacks:mailbox":  # Generic SMTP and Gmail providers only
        return list(
            EmailProvider.objects.filter(kind__in=EmailProvider.SMTP_KINDS).values_list(
                "pk", flat=True
            )
        )
    if "test_email" in name:
        return list(TestEmail.objects.values_list("pk", flat=True))
    if name.startswith("profiles:export"):
        return list(ProfileExport.objects.values_list("pk", flat=True))
    if name.startswith("profiles:import"):
        return list(ProfileImport.objects.values_list("pk", flat=True))
    if name.startswith("profiles:"):
        return list(Profile.objects.values_list("pk", flat=True))
    return list(EmailProvider.objects.values_list("pk", flat=True))


def dashboard_pages() -> list[str]:
    urls = []
    for name, converters in dashboard_urls():
        if name in POST_ONLY or name in NOT_HTML:
            continue
        if not converters:
            urls.append(reverse(name))
        elif set(converters) == {"kind"}:
            urls += [reverse(name, kwargs={"kind": kind}) for kind in EmailProvider.Kind]
        elif set(converters) == {"pk"}:
            urls += [reverse(name, kwargs={"pk": pk}) for pk in ids_for(name)]
        else:
            raise AssertionError(f"{name}: teach this test the converters {converters}")
    return urls


def admin_pages() -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        first = model_admin.get_queryset(None).values_list("pk", flat=True).first()
        if first is not None:
            urls.append(reverse(f"{prefix}_change", args=[first]))
    urls += [
        reverse("admin:providers_emailprovider_add") + f"?kind={k}" for k in EmailProvider.Kind
    ]
    return urls


def page_width(page, url: str) -> int:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    return page.evaluate("document.documentElement.scrollWidth")


def test_every_page_fits_a_390px_screen(signed_in_page, live_server, wide_data, screenshot):
    page = signed_in_page
    page.set_viewport_size(PHONE)
    urls = dashboard_pages() + admin_pages()
    assert len(urls) > 30
    too_wide = {}
    for path in urls:
        width = page_width(page, live_server.url + path)
        if width > PHONE["width"]:
            too_wide[path] = width
    page.goto(live_server.url + reverse("providers:list"))
    screenshot(page, "providers-390px")
    # The provider table fits as it is, without scrolling sideways inside its box.
    table_box = page.locator(".table-responsive").first
    assert table_box.evaluate("box => box.scrollWidth <= box.clientWidth")
    expect(page.get_by_role("button", name="Mark as Default").first).to_be_in_viewport()

    # The provider page: the audit trail fits its card; callback outcomes are readable.
    page.goto(live_server.url + reverse("providers:detail", args=[wide_data["smtp"].pk]))
    screenshot(page, "provider-390px")
    audit_box = page.locator("#audit-heading ~ .table-responsive")
    assert audit_box.evaluate("box => box.scrollWidth <= box.clientWidth")
    outcome_widths = page.locator("#callbacks td.callback-outcome").evaluate_all(
        "cells => cells.map(cell => cell.getBoundingClientRect().width)"
    )
    assert len(outcome_widths) >= 6 and min(outcome_widths) >= 150, outcome_widths

    page.context.clear_cookies()  # the public pages, as a recipient or a newcomer sees them
    for url in (
        live_server.url + reverse("login"),
        live_server.url + reverse("profiles:preferences", args=[make_token(LONG_ADDRESS)]),
    ):
        width = page_width(page, url)
        if width > PHONE["width"]:
            too_wide[url] = width
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
