"""Send test email: a warning before sending to an address whose profile is Inactive."""

import pytest
from django.urls import reverse

from profiles.models import Profile
from providers.models import TestEmail
from tests.factories import EmailProviderFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def send_url():
    return reverse("providers:send_test", args=[EmailProviderFactory().pk])


@pytest.fixture
def bounced():
    return ProfileFactory(
        email="bounced@acme.test",
        status=Profile.Status.INACTIVE,
        inactive_reason=Profile.Reason.HARD_BOUNCE,
    )


def test_inactive_recipient_is_warned_about_and_nothing_is_sent(
    client_logged_in, send_url, bounced
):
    response = client_logged_in.post(send_url, {"recipient": "Bounced@Acme.test"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "bounced@acme.test is Inactive" in body
    assert "Hard bounce" in body
    assert 'name="send_anyway" value="bounced@acme.test"' in body
    assert not TestEmail.objects.exists()


def test_the_warning_offers_one_submit_button_send_anyway(client_logged_in, send_url, bounced):
    body = client_logged_in.post(send_url, {"recipient": "bounced@acme.test"}).content.decode()

    form = body[body.index('<form method="post" class="card card-body"') :]
    form = form[: form.index("</form>")]
    assert form.count('type="submit"') == 1
    assert ">Send anyway</button>" in body
    assert ">Send test email</button>" not in body


def test_send_anyway_sends_to_the_address_the_warning_named(client_logged_in, send_url, bounced):
    response = client_logged_in.post(
        send_url, {"recipient": "bounced@acme.test", "send_anyway": "bounced@acme.test"}
    )

    assert response.status_code == 302
    assert TestEmail.objects.get().recipient == "bounced@acme.test"
    bounced.refresh_from_db()
    assert bounced.status == Profile.Status.INACTIVE


def test_changing_the_recipient_after_the_warning_asks_again(client_logged_in, send_url):
    ProfileFactory(email="other@acme.test", status=Profile.Status.INACTIVE)
    response = client_logged_in.post(
        send_url, {"recipient": "other@acme.test", "send_anyway": "bounced@acme.test"}
    )

    assert response.status_code == 200
    assert "other@acme.test is Inactive" in response.content.decode()
    assert not TestEmail.objects.exists()


def test_active_or_unknown_recipient_is_sent_without_a_warning(client_logged_in, send_url):
    ProfileFactory(email="active@acme.test")
    for recipient in ("active@acme.test", "nobody@acme.test"):
        response = client_logged_in.post(send_url, {"recipient": recipient})
        assert response.status_code == 302
    assert TestEmail.objects.count() == 2
