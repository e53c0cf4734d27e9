"""Mailgun's reference payloads over a real socket to the running app, applied by a real worker."""

import httpx
import pytest

from callbacks.models import CallbackLog
from profiles.models import Profile
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import celery_worker, wait_until_applied  # noqa: F401  (fixture)

from .conftest import payload_json
from .test_mailgun_format import SIGNING_KEY, signed


@pytest.mark.django_db(transaction=True)
def test_signed_mailgun_events_over_http_forged_and_replayed_refused(live_server, celery_worker):  # noqa: F811
    provider = EmailProviderFactory(kind=EmailProvider.Kind.MAILGUN, host="", port=None)
    provider.set_webhook_secret(SIGNING_KEY)
    provider.save()
    url = live_server.url + provider.callback_path
    names = ["delivered", "failed_bounce", "failed_suppress_bounce", "failed_temporary"]
    bodies = [signed(payload_json(f"mailgun_{name}.json")) for name in names]
    with httpx.Client(timeout=10) as http:
        answers = [http.post(url, content=body).status_code for body in bodies]
        replay = http.post(url, content=bodies[1])
        forged = http.post(url, content=signed(payload_json("mailgun_complained.json"), "x"))
    wait_until_applied()

    assert answers == [200, 200, 200, 200]
    assert (replay.status_code, forged.status_code) == (406, 406)
    statuses = dict(Profile.objects.values_list("email", "status"))
    assert statuses == {
        "recipient@example.com": Profile.Status.ACTIVE,
        "invalid@example.com": Profile.Status.INACTIVE,
        "slava@mailgun.com": Profile.Status.INACTIVE,
    }  # the temporary failure is only logged: it makes no profile
    assert not Profile.objects.filter(email="foo@example.com").exists()
    assert sorted(CallbackLog.objects.values_list("status_code", flat=True)) == [
        200,
        200,
        200,
        200,
        406,
        406,
    ]
