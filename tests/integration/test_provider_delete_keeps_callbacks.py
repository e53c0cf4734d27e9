"""Deleting a provider applies the callback batches its URL already accepted (answered 200)."""

import threading

import httpx
import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from callbacks import inbox
from callbacks.models import CallbackLog, InboxWakeup, PendingBatch
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),  # the worker and the live server see committed rows
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")),
        reason="needs a Redis broker: set CELERY_BROKER_URL=redis://…",
    ),
]

BATCHES = 4


def bounces(batch: int) -> list[dict]:
    return [
        {
            "email": f"gone{batch}-{n}@example.com",
            "event": "bounce",
            "type": "bounce",
            "reason": "550 5.1.1 User unknown",
            "timestamp": 1_700_000_000 + n,
            "sg_event_id": f"delete-{batch}-{n}",
        }
        for n in range(3)
    ]


def accept_batches_over_http(live_server, provider) -> None:
    """Post BATCHES real requests; each must be answered 200 and wait in the inbox."""
    InboxWakeup.objects.create()  # workers "already asked": the endpoint queues no task
    with httpx.Client(timeout=10) as http:
        for batch in range(BATCHES):
            response = http.post(live_server.url + provider.callback_path, json=bounces(batch))
            assert response.status_code == 200, response.text
    assert PendingBatch.objects.count() == BATCHES


def test_deleting_a_provider_applies_the_batches_it_accepted(
    live_server, celery_worker, admin_client_logged_in
):
    keeper = EmailProviderFactory(sendgrid=True, nickname="Keeper")
    doomed = EmailProviderFactory(sendgrid=True, nickname="Doomed")
    accept_batches_over_http(live_server, doomed)
    page = admin_client_logged_in.get(reverse("providers:delete", args=[doomed.pk]))
    assert f'data-waiting-batches="{BATCHES}"' in page.content.decode()
    assert "applied to profiles before it is removed" in page.content.decode()

    # The worker is woken as the page deletes: the two race for the same batches.
    waker = threading.Thread(target=inbox.publish, args=(2,))
    waker.start()
    response = admin_client_logged_in.post(reverse("providers:delete", args=[doomed.pk]))
    waker.join()

    assert response.status_code == 302
    assert not EmailProvider.objects.filter(pk=doomed.pk).exists()
    assert EmailProvider.objects.filter(pk=keeper.pk).exists()
    assert not PendingBatch.objects.exists()
    assert not CallbackLog.objects.exists()  # removed with the provider, once applied
    emails = [event["email"] for batch in range(BATCHES) for event in bounces(batch)]
    profiles = Profile.objects.filter(email__in=emails)
    assert profiles.count() == len(emails)
    assert set(profiles.values_list("status", flat=True)) == {Profile.Status.INACTIVE}
    # Applied exactly once, whichever of the page and the worker got each batch.
    timeline = TimelineEvent.objects.filter(profile__in=profiles)
    assert timeline.count() == len(set(timeline.values_list("profile", "kind")))


def test_a_batch_that_cannot_be_applied_stops_the_deletion(admin_client_logged_in):
    provider = EmailProviderFactory(sendgrid=True, nickname="Stuck")
    log = CallbackLog.objects.create(
        provider=provider, payload_format="sendgrid", status_code=200, processed=1
    )
    PendingBatch.objects.create(log=log, body=b"not json at all")

    response = admin_client_logged_in.post(
        reverse("providers:delete", args=[provider.pk]), follow=True
    )

    assert EmailProvider.objects.filter(pk=provider.pk).exists()
    assert PendingBatch.objects.filter(log=log).exists()  # kept for the workers to retry
    assert "was not deleted" in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("providers:delete", args=[provider.pk])


def test_any_other_deletion_applies_them_too(live_server):
    """The admin and scripts delete through `EmailProvider.objects.remove`, in a transaction."""
    provider = EmailProviderFactory(sendgrid=True, nickname="Removed elsewhere")
    accept_batches_over_http(live_server, provider)

    with transaction.atomic():
        EmailProvider.objects.remove(provider)

    assert not PendingBatch.objects.exists()
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).count() == BATCHES * 3
