"""The "Bounce mailbox" page, Test mailbox against Dovecot, and the provider page's panel."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from callbacks.mailbox.models import BounceMailbox
from tests.factories import EmailProviderFactory
from tests.imap_server import IMAP_PASSWORD, IMAP_USER

pytestmark = pytest.mark.django_db


def settings_data(server, **changes) -> dict:
    data = {
        "enabled": "on",
        "host": server.host,
        "port": server.port,
        "tls": "starttls",
        "username": IMAP_USER,
        "password": IMAP_PASSWORD,
        "folder": "INBOX",
        "processed_action": "mark_read",
        "move_to_folder": "",
    }
    data.update(changes)
    return data


def test_saving_stores_the_password_encrypted_and_never_shows_it(client_logged_in, imap_server):
    provider = EmailProviderFactory(kind="smtp")
    url = reverse("callbacks:mailbox", args=[provider.pk])

    response = client_logged_in.post(url, settings_data(imap_server))

    assert response.status_code == 302
    mailbox = BounceMailbox.objects.get(provider=provider)
    assert IMAP_PASSWORD not in mailbox.password_encrypted
    assert mailbox.password == IMAP_PASSWORD
    page = client_logged_in.get(url).content.decode()
    assert IMAP_PASSWORD not in page and "Stored. Leave empty to keep it." in page
    # Saved again without a password: the stored one stays.
    client_logged_in.post(url, settings_data(imap_server, password=""))
    mailbox.refresh_from_db()
    assert mailbox.password == IMAP_PASSWORD
    # Pointed at another host without a password: the old one is not sent there.
    client_logged_in.post(url, settings_data(imap_server, password="", host="127.0.0.1"))
    mailbox.refresh_from_db()
    assert mailbox.password == ""


def test_a_gmail_mailbox_defaults_to_the_account_and_its_app_password(client_logged_in):
    provider = EmailProviderFactory(kind="gmail", host="", port=None, username="me@gmail.com")
    provider.set_secret("abcd efgh ijkl mnop")
    provider.save()
    response = client_logged_in.get(reverse("callbacks:mailbox", args=[provider.pk]))
    form = response.context["form"]
    assert (form["host"].value(), form["port"].value()) == ("imap.gmail.com", 993)
    assert form["username"].value() == "me@gmail.com"
    assert form.instance.password == "abcd efgh ijkl mnop"
    assert "app password (same Gmail account)" in response.content.decode()


def test_only_smtp_and_gmail_providers_have_a_mailbox(client_logged_in):
    provider = EmailProviderFactory(kind="sendgrid", host="", port=None, username="")
    response = client_logged_in.get(reverse("callbacks:mailbox", args=[provider.pk]))
    assert response.status_code == 404
    page = client_logged_in.get(reverse("providers:detail", args=[provider.pk])).content.decode()
    assert "Bounce mailbox" not in page


def test_moving_needs_a_folder(client_logged_in, imap_server):
    provider = EmailProviderFactory(kind="smtp")
    response = client_logged_in.post(
        reverse("callbacks:mailbox", args=[provider.pk]),
        settings_data(imap_server, processed_action="move"),
    )
    assert response.status_code == 200
    assert "Name the folder to move read messages to." in response.content.decode()
    assert not BounceMailbox.objects.exists()


def check(client, imap_server, **changes) -> list[tuple[str, bool | None]]:
    provider = EmailProviderFactory(kind="smtp")
    data = settings_data(imap_server, **changes)
    response = client.post(reverse("callbacks:mailbox", args=[provider.pk]), {**data, "test": ""})
    assert response.status_code == 200
    assert not BounceMailbox.objects.exists()  # a test saves nothing
    return [(step.name, step.ok) for step in response.context["steps"]]


def test_test_mailbox_goes_step_by_step_over_starttls(client_logged_in, imap_server):
    assert check(client_logged_in, imap_server) == [
        ("DNS lookup", True),
        ("TCP connection", True),
        ("STARTTLS", True),
        ("Login", True),
        ("Folder", True),
    ]


def test_test_mailbox_over_implicit_tls(client_logged_in, imap_server):
    steps = check(client_logged_in, imap_server, tls="implicit", port=imap_server.tls_port)
    assert ("TLS (IMAPS)", True) in steps and steps[-1] == ("Folder", True)


def test_test_mailbox_stops_at_the_failed_step(client_logged_in, imap_server, settings):
    assert check(client_logged_in, imap_server, password="not-it")[-1] == ("Login", False)
    assert check(client_logged_in, imap_server, folder="Nope")[-1] == ("Folder", False)
    settings.SMTP_CA_FILE = None  # the test CA is no longer trusted
    assert check(client_logged_in, imap_server)[-1] == ("STARTTLS", False)
    steps = check(client_logged_in, imap_server, tls="implicit", port=imap_server.tls_port)
    assert steps[-1] == ("TLS (IMAPS)", False)


def test_test_mailbox_refuses_a_forbidden_host(client_logged_in, imap_server, settings):
    settings.PROVIDER_HOSTS_ALLOW_PRIVATE = False
    assert check(client_logged_in, imap_server) == [("DNS lookup", False)]


def test_the_provider_page_shows_the_mailbox_health(client_logged_in):
    provider = EmailProviderFactory(kind="smtp")
    page = client_logged_in.get(reverse("providers:detail", args=[provider.pk])).content.decode()
    assert "Read bounces from a mailbox" in page
    BounceMailbox.objects.create(
        provider=provider,
        host="imap.example.com",
        username="bounces",
        messages_read=12,
        bounces_found=7,
        complaints_found=2,
        unreadable_messages=1,
        last_error="MailboxError: login failed",
    )
    page = client_logged_in.get(reverse("providers:detail", args=[provider.pk])).content.decode()
    assert 'data-mailbox-count="bounces">7<' in page
    assert 'data-mailbox-count="complaints">2<' in page
    assert 'data-mailbox-count="unreadable">1 ' in page
    assert "The last poll failed: <code>MailboxError: login failed</code>" in page


@pytest.mark.parametrize("port", [0, 65536])
def test_a_port_out_of_range_is_refused_by_the_model_and_the_page(
    client_logged_in, imap_server, port
):
    provider = EmailProviderFactory(kind="smtp")
    with pytest.raises(ValidationError) as refused:
        BounceMailbox(
            provider=provider, host="imap.example.com", username="u", port=port
        ).full_clean()
    assert "port" in refused.value.error_dict

    url = reverse("callbacks:mailbox", args=[provider.pk])
    response = client_logged_in.post(url, settings_data(imap_server, port=port))
    assert response.status_code == 200
    assert response.context["form"].errors["port"]
    assert not BounceMailbox.objects.filter(provider=provider).exists()
