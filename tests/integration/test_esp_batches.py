"""ESP batches past CleverTap's 1000-event limit, posted over HTTP and applied by a real worker."""

import httpx
import pytest

from callbacks.models import CallbackLog
from profiles.models import Profile
from providers.models import EmailProvider
from tests.callback_strategies import netcore_events, sendgrid_events
from tests.factories import EmailProviderFactory
from tests.servers import wait_until_applied

BATCHES = {EmailProvider.Kind.SENDGRID: sendgrid_events, EmailProvider.Kind.NETCORE: netcore_events}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(BATCHES))
def test_a_5000_event_esp_batch_is_accepted_and_applied_once(live_server, celery_worker, kind):
    """One event without an address is reported; the other 4,999 apply; a retry adds nothing."""
    provider = EmailProviderFactory(kind=kind)
    events = BATCHES[kind](5000)
    email_key = "EMAIL" if kind == EmailProvider.Kind.NETCORE else "email"
    del events[4321][email_key]
    url = live_server.url + provider.callback_path
    with httpx.Client(timeout=60) as http:
        response = http.post(url, json=events)
        wait_until_applied(timeout=60)
        retry = http.post(url, json=events)
        wait_until_applied(timeout=60)
    error = {"event_index": 4321, "error": f"Mandatory parameter missing: {email_key}"}
    expected = {"status": "partial_success", "processed": 4999, "failed": 1, "errors": [error]}
    assert (response.status_code, response.json()) == (200, expected)
    assert (retry.status_code, retry.json()) == (200, expected)
    assert Profile.objects.count() == 4999
    assert Profile.objects.filter(status=Profile.Status.INACTIVE).count() == 500  # every 10th
    logs = CallbackLog.objects.order_by("received_at").values_list("processed", "duplicates")
    assert list(logs) == [(4999, 0), (4999, 4999)]
