"""The signed-in pages of the callbacks app: policy, sample callback, log, panel, admin."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callbacks.health import callback_health
from callbacks.models import CallbackLog, DailyStat, ReceivedEvent, SoftBouncePolicy
from profiles.models import Profile, TimelineEvent
from providers import models as provider_models
from providers.models import EmailProvider
from tests.factories import ProfileFactory

from .conftest import payload, post

pytestmark = pytest.mark.django_db


# --- soft bounce policy ----------------------------------------------------------------------


def test_policy_page_is_staff_only(client, client_logged_in):
    url = reverse("callbacks:policy")
    assert client.get(url).status_code == 302
    refused = client_logged_in.get(url)  # signed in, not staff: told why, not sent elsewhere
    assert refused.status_code == 403
    assert "Only admins can change the soft bounce policy." in refused.content.decode()


def test_policy_page_shows_the_default_never_and_the_documented_behaviour(admin_client_logged_in):
    response = admin_client_logged_in.get(reverse("callbacks:policy"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Current policy: <strong>Never make an address Inactive for soft bounces" in html
    assert "no policy has been saved" in html
    assert "The documented behaviour is to\ncount soft bounces only" in html
    assert response.context["form"]["threshold"].value() is None


def test_policy_page_and_field_help_define_the_window_the_same_way(admin_client_logged_in):
    """The window as profiles.suppression counts it: within N days of now and of the first."""
    html = " ".join(
        admin_client_logged_in.get(reverse("callbacks:policy")).content.decode().split()
    )
    rule = "within {n} before now and within {m} after the first one counted"
    assert rule.format(n="the chosen number of days", m="that many days") in html
    assert rule.format(n="this many days", m="this many days") in html  # the field's help
    assert "this close together" not in html


def test_policy_page_shows_a_saved_policy(admin_client_logged_in):
    SoftBouncePolicy.objects.create(pk=1, threshold=3, window_days=14)
    response = admin_client_logged_in.get(reverse("callbacks:policy"))
    html = response.content.decode()
    saved = "Current policy: <strong>Inactive after 3 soft bounces within 14 days</strong>, saved"
    assert saved in html


def test_preview_counts_without_saving_then_save_applies(admin_client_logged_in):
    now = timezone.now()
    ProfileFactory(email="a@example.com", soft_bounce_count=2, soft_bounce_since=now)
    ProfileFactory(email="b@example.com", soft_bounce_count=1, soft_bounce_since=now)
    url = reverse("callbacks:policy")
    response = admin_client_logged_in.post(
        url, {"threshold": "2", "window_days": "14", "action": "preview"}
    )
    assert response.status_code == 200
    assert response.context["preview"] == 1
    assert "makes <strong>1</strong> Active profile Inactive" in response.content.decode()
    assert not SoftBouncePolicy.objects.exists()  # not saved yet
    assert Profile.objects.get(email="a@example.com").status == "active"

    response = admin_client_logged_in.post(
        url, {"threshold": "2", "window_days": "14", "action": "save"}, follow=True
    )
    assert SoftBouncePolicy.current().threshold == 2
    assert Profile.objects.get(email="a@example.com").inactive_reason == "soft_bounce"
    assert Profile.objects.get(email="b@example.com").status == "active"
    assert "1 profile was made Inactive." in response.content.decode()


def test_never_is_allowed(admin_client_logged_in):
    admin_client_logged_in.post(
        reverse("callbacks:policy"), {"threshold": "", "window_days": "14", "action": "save"}
    )
    assert SoftBouncePolicy.current().threshold is None


@pytest.mark.parametrize(("threshold", "days"), [("0", "14"), ("3", "0"), ("3", "999"), ("x", "1")])
def test_invalid_policy_is_refused(admin_client_logged_in, threshold, days):
    response = admin_client_logged_in.post(
        reverse("callbacks:policy"), {"threshold": threshold, "window_days": days, "action": "save"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not SoftBouncePolicy.objects.exists()


# --- sample callback -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EmailProvider.Kind))
def test_sample_callback_runs_the_real_path_and_changes_nothing(
    client_logged_in, make_provider, kind
):
    provider = make_provider(kind)
    ProfileFactory(email="real@example.com")
    response = client_logged_in.post(reverse("callbacks:sample", args=[provider.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("providers:detail", args=[provider.pk])
    log = CallbackLog.objects.get()
    one_event_per_post = kind == EmailProvider.Kind.MAILGUN  # Mailgun posts one event a time
    assert log.is_sample and log.status_code == 200
    assert log.processed >= (1 if one_event_per_post else 2)
    assert "sample@postdesk.invalid" in log.body_excerpt
    assert list(Profile.objects.values_list("email", "status")) == [("real@example.com", "active")]
    assert not TimelineEvent.objects.exists()
    assert not DailyStat.objects.exists()
    assert not ReceivedEvent.objects.exists()


def test_after_a_sample_the_panel_summary_and_table_agree(client_logged_in, smtp_provider):
    client_logged_in.post(reverse("callbacks:sample", args=[smtp_provider.pk]))

    page = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    html = " ".join(page.content.decode().split())

    assert "None received yet" not in html
    assert "None from the provider yet" in html
    assert "0 requests; not counted: 1 sample sent from this page" in html
    assert 'badge text-bg-secondary">sample</span>' in html
    assert "Last 1 request to the callback URL, samples included and marked." in html


def test_a_replays_counts_add_up_the_same_on_the_provider_page_and_the_log(
    client_logged_in, smtp_provider
):
    CallbackLog.objects.create(
        provider=smtp_provider,
        status_code=200,
        events_total=12,
        processed=11,
        failed=1,
        duplicates=5,
        ignored=2,
        applied_at=timezone.now(),
    )
    counts = "12 received: 4 new, 5 duplicates, 2 ignored, 1 failed"
    for name in ("providers:detail", "callbacks:log"):
        html = client_logged_in.get(reverse(name, args=[smtp_provider.pk])).content.decode()
        assert counts in html, name
        assert "processed" not in html, name


def test_sample_callback_needs_a_signed_in_post(client, client_logged_in, smtp_provider):
    url = reverse("callbacks:sample", args=[smtp_provider.pk])
    assert client.post(url).status_code == 302
    assert client_logged_in.get(url).status_code == 405
    assert not CallbackLog.objects.exists()


def test_sample_skips_the_signature_of_a_signed_sendgrid_provider(client_logged_in, make_provider):
    from .formats.test_sendgrid_signature import new_key

    _private, public = new_key()
    provider = make_provider(EmailProvider.Kind.SENDGRID, webhook_verification_key=public)
    client_logged_in.post(reverse("callbacks:sample", args=[provider.pk]))
    assert CallbackLog.objects.get().status_code == 200


# --- callback log and panel ------------------------------------------------------------------


def test_callback_log_page(client, client_logged_in, smtp_provider):
    post(Client(), smtp_provider, b"{broken")
    url = reverse("callbacks:log", args=[smtp_provider.pk])
    assert client.get(url).status_code == 302
    response = client_logged_in.get(url)
    assert response.status_code == 200
    assert "{broken" in response.content.decode()
    assert "invalid payload" in response.content.decode()


def render_panel(provider) -> str:
    template = Template('{% include "callbacks/_provider_callbacks_panel.html" %}')
    return template.render(Context({"provider": provider}))


def test_panel_shows_health_recent_requests_and_the_sample_button(smtp_provider):
    post(Client(), smtp_provider, payload("generic_v2_nested.json"))
    post(Client(), smtp_provider, b"{broken")
    html = render_panel(smtp_provider)
    assert "Send a sample callback" in html
    assert reverse("callbacks:sample", args=[smtp_provider.pk]) in html
    assert "1 rejected" in html
    assert "Hard bounce: 1" in html
    assert html.count("<tr>") == 1 + 2  # header + two requests
    assert smtp_provider.callback_token not in html


def test_health_counts_requests_of_the_last_24_hours_and_events_dated_today(smtp_provider):
    post(Client(), smtp_provider, payload("generic_v2_nested.json"))  # no times: received today
    old = CallbackLog.objects.create(
        provider=smtp_provider, status_code=200, kind_counts={"delivered": 50}
    )
    CallbackLog.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    CallbackLog.objects.create(
        provider=smtp_provider, status_code=200, is_sample=True, kind_counts={"delivered": 7}
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    DailyStat.objects.create(provider=smtp_provider, date=yesterday, delivered=40)
    health = callback_health(smtp_provider)
    assert health.counts_today == {
        "Delivered": 1,
        "Soft bounce": 1,
        "Hard bounce": 1,
        "Spam": 1,
        "Unsubscribed": 1,
    }
    assert (health.requests_24h, health.rejected_24h, health.samples_24h) == (1, 0, 1)


def test_the_last_callback_is_the_providers_last_real_one(make_provider, smtp_provider):
    real = CallbackLog.objects.create(provider=smtp_provider, status_code=200)
    CallbackLog.objects.filter(pk=real.pk).update(received_at=timezone.now() - timedelta(days=40))
    CallbackLog.objects.create(provider=smtp_provider, status_code=200, is_sample=True)
    CallbackLog.objects.create(provider=make_provider(nickname="Other"), status_code=200)
    real.refresh_from_db()
    assert callback_health(smtp_provider).last_received_at == real.received_at


def test_warning_when_test_emails_went_out_but_no_callback_came(smtp_provider):
    sent = provider_models.TestEmail.objects.create(
        provider=smtp_provider,
        recipient="me@example.com",
        status=provider_models.TestEmail.Status.SENT,
    )
    provider_models.TestEmail.objects.filter(pk=sent.pk).update(
        created_at=timezone.now() - timedelta(hours=30)
    )
    assert callback_health(smtp_provider).quiet_since_test_email is not None
    assert "no callback has arrived since" in render_panel(smtp_provider)
    post(Client(), smtp_provider, b"[]")
    assert callback_health(smtp_provider).quiet_since_test_email is None


def test_no_warning_for_a_recent_test_email(smtp_provider):
    provider_models.TestEmail.objects.create(
        provider=smtp_provider,
        recipient="me@example.com",
        status=provider_models.TestEmail.Status.SENT,
    )
    assert callback_health(smtp_provider).quiet_since_test_email is None


# --- admin -----------------------------------------------------------------------------------


def test_admin_pages(admin_client_logged_in, smtp_provider):
    post(Client(), smtp_provider, payload("generic_v2_nested.json"))
    log = CallbackLog.objects.get()
    assert (
        admin_client_logged_in.get(reverse("admin:callbacks_callbacklog_changelist")).status_code
        == 200
    )
    assert admin_client_logged_in.get(reverse("admin:callbacks_callbacklog_add")).status_code == 403
    detail = admin_client_logged_in.get(
        reverse("admin:callbacks_callbacklog_change", args=[log.pk])
    )
    assert detail.status_code == 200
    assert (
        admin_client_logged_in.get(reverse("admin:callbacks_dailystat_changelist")).status_code
        == 200
    )
    SoftBouncePolicy.objects.create(pk=1)
    assert (
        admin_client_logged_in.get(reverse("admin:callbacks_softbouncepolicy_add")).status_code
        == 403
    )


def test_a_policy_added_in_the_admin_is_the_current_one(admin_client_logged_in):
    SoftBouncePolicy.objects.create(pk=1)
    SoftBouncePolicy.objects.all().delete()  # the sequence has moved past 1, as after migrating
    response = admin_client_logged_in.post(
        reverse("admin:callbacks_softbouncepolicy_add"), {"threshold": "4", "window_days": "7"}
    )
    assert response.status_code == 302
    assert SoftBouncePolicy.current().threshold == 4
    assert SoftBouncePolicy.current().is_chosen


def test_provider_page_shows_the_callbacks_panel(client_logged_in, smtp_provider):
    post(Client(), smtp_provider, payload("generic_v2_nested.json"))
    response = client_logged_in.get(reverse("providers:detail", args=[smtp_provider.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Send a sample callback" in html
    assert "Hard bounce: 1" in html
