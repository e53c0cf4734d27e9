"""A real HTTP request over a socket to the running app, applied by a real worker."""

import httpx
import pytest

from callbacks.models import CallbackLog
from profiles.models import Profile
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory
from tests.servers import celery_worker, wait_until_applied  # noqa: F401  (fixture)

from .conftest import payload


@pytest.mark.django_db(transaction=True)
def test_netcore_posts_its_native_payload_over_http(live_server, celery_worker):  # noqa: F811
    """Through the socket, the inbox and a real Celery worker on the configured broker."""
    provider = EmailProviderFactory(kind=EmailProvider.Kind.NETCORE)
    url = live_server.url + provider.callback_path
    with httpx.Client(timeout=10) as http:
        probe = http.head(url)
        response = http.post(
            url,
            content=payload("netcore_native.json"),
            headers={"Content-Type": "application/json"},
        )
        replay = http.post(url, content=payload("netcore_native.json"))
        wrong = http.get(url)
        unknown = http.post(live_server.url + "/callbacks/unknown-token/", content=b"[]")
    wait_until_applied()
    assert probe.status_code == 200
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Callback processed successfully"}
    assert replay.json()["status"] == "success"
    assert wrong.status_code == 405
    assert unknown.status_code == 404
    assert Profile.objects.get(email="grace@example.com").status == Profile.Status.INACTIVE
    assert Profile.objects.get(email="linus@example.com").status == Profile.Status.ACTIVE
    assert list(CallbackLog.objects.values_list("method", "status_code", "duplicates")) == [
        ("POST", 200, 11),
        ("POST", 200, 0),
        ("HEAD", 200, 0),
    ]
