"""Postmark's webhooks through the callback endpoint: credentials first, then the records."""

import base64
import json

import httpx
import pytest
from django.urls import reverse

from callbacks.models import CallbackLog, ReceivedEvent
from profiles.models import Profile
from providers.forms.postmark import webhook_url_with_credentials
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import celery_worker, wait_until_applied  # noqa: F401  (fixture)

from .conftest import payload, payload_json, post

PASSWORD = "generated-webhook-password"
INACTIVE = Profile.Status.INACTIVE
ACTIVE = Profile.Status.ACTIVE


def postmark_provider() -> EmailProvider:
    provider = EmailProviderFactory(kind=EmailProvider.Kind.POSTMARK)
    provider.set_webhook_secret(PASSWORD)
    provider.save()
    return provider


def credentials(password: str = PASSWORD, header: str | None = None) -> dict:
    login = base64.b64encode(f"postdesk:{password}".encode()).decode()
    return {
        "HTTP_AUTHORIZATION": f"Basic {login}",
        "HTTP_X_POSTDESK_WEBHOOK_SECRET": PASSWORD if header is None else header,
    }


def states() -> dict:
    return {p.email: (p.status, p.inactive_reason) for p in Profile.objects.order_by("email")}


@pytest.mark.django_db
def test_each_record_applies_as_the_reference_decides(client):
    provider = postmark_provider()
    for name in (
        "postmark_delivery.json",
        "postmark_bounce_soft.json",
        "postmark_spam_complaint.json",
        "postmark_subscription_unsubscribe.json",
    ):
        response = post(client, provider, payload(name), **credentials())
        assert response.status_code == 200, name
    assert states() == {
        "bounce@example.com": (ACTIVE, ""),
        "john@example.com": (INACTIVE, "spam"),
        "recipient@example.com": (ACTIVE, ""),
        "unsubscriber@example.com": (INACTIVE, "unsubscribed"),
    }


@pytest.mark.django_db
def test_a_lifted_suppression_is_recorded_and_reactivates_nothing(client):
    provider = postmark_provider()
    post(client, provider, payload("postmark_subscription_change.json"), **credentials())
    assert states() == {"bounced-address@wildbit.com": (INACTIVE, "hard_bounce")}

    response = post(
        client, provider, payload("postmark_subscription_reactivated.json"), **credentials()
    )

    assert response.status_code == 200
    assert states() == {"bounced-address@wildbit.com": (INACTIVE, "hard_bounce")}
    log = CallbackLog.objects.filter(provider=provider).order_by("-pk").first()
    assert (log.status_code, log.payload_format) == (200, "postmark")
    assert "SuppressSending" in log.body_excerpt


@pytest.mark.django_db
def test_the_subscription_change_a_hard_bounce_causes_applies_idempotently(client):
    provider = postmark_provider()
    bounce = payload_json("postmark_bounce_hard.json")
    change = payload_json("postmark_subscription_change.json") | {
        "MessageID": bounce["MessageID"],
        "Recipient": bounce["Email"],
    }
    post(client, provider, bounce, **credentials())
    post(client, provider, change, **credentials())

    assert states() == {"bounce@example.com": (INACTIVE, "hard_bounce")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        credentials(password="forged"),
        credentials(header="forged"),
        {"HTTP_X_POSTDESK_WEBHOOK_SECRET": PASSWORD},
    ],
    ids=["none", "forged-login", "forged-header", "header-only"],
)
def test_missing_or_forged_credentials_are_403_and_store_nothing(client, headers):
    provider = postmark_provider()

    response = post(client, provider, payload("postmark_bounce_hard.json"), **headers)

    assert response.status_code == 403
    assert response.json() == {
        "status": "error",
        "message": "Invalid signature",
        "error_code": 403,
    }
    assert Profile.objects.count() == 0
    assert ReceivedEvent.objects.count() == 0
    assert CallbackLog.objects.get().status_code == 403


@pytest.mark.django_db
def test_the_sample_callback_is_postmark_records_the_endpoint_accepts(admin_client):
    provider = postmark_provider()

    response = admin_client.post(reverse("callbacks:sample", args=[provider.pk]), follow=True)

    log = CallbackLog.objects.get(provider=provider)
    assert (log.status_code, log.payload_format, log.is_sample, log.processed) == (
        200,
        "postmark",
        True,
        2,
    )
    assert "Sample callback accepted (200)" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_postmark_posts_over_http_with_the_url_login_to_a_real_worker(
    live_server,
    celery_worker,  # noqa: F811
    settings,
):
    """Over a socket with the webhook URL as Postdesk shows it, applied by a real worker."""
    settings.SITE_URL = live_server.url
    provider = postmark_provider()
    url = webhook_url_with_credentials(provider)
    assert url.startswith(f"http://postdesk:{PASSWORD}@localhost:")
    body = payload("postmark_bounce_hard.json")
    header = {"Content-Type": "application/json", "X-Postdesk-Webhook-Secret": PASSWORD}
    with httpx.Client(timeout=10) as http:
        accepted = http.post(url, content=body, headers=header)
        replayed = http.post(url, content=body, headers=header)
        forged = http.post(
            live_server.url + provider.callback_path,
            content=body,
            headers=header,
            auth=("postdesk", "forged"),
        )
    wait_until_applied()

    assert (accepted.status_code, replayed.status_code, forged.status_code) == (200, 200, 403)
    assert Profile.objects.get(email="bounce@example.com").status == INACTIVE
    logs = list(CallbackLog.objects.order_by("pk").values_list("status_code", "duplicates"))
    assert logs == [(200, 0), (200, 1), (403, 0)]
    assert ReceivedEvent.objects.count() == 1
    assert json.loads(body)["ID"] == 901542550
