"""Send test email pages, the JSON status endpoint and "Test connection"."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery_app import app as celery_app
from providers.models import EmailProvider, TestEmail
from providers.tasks import enqueue_test_email, sweep_stale_test_emails
from tests.factories import EmailProviderFactory
from tests.servers import SMTP_PASSWORD, SMTP_USER

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return EmailProviderFactory(nickname="Acme SMTP")


@pytest.fixture
def unreachable_broker(closed_port):
    """Point the Celery app at a broker that refuses connections, then put it back."""
    names = ("broker_url", "broker_write_url")
    original = {name: celery_app.conf[name] for name in names}

    def reset_pools():
        # Celery caches its connection and producer pools; drop them so the URL is re-read.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    for name in names:
        celery_app.conf[name] = f"redis://127.0.0.1:{closed_port}/0"
    reset_pools()
    yield
    celery_app.conf.update(original)
    reset_pools()


def published_task_ids() -> list[int]:
    """Test-email ids waiting in the broker's default queue (consumed here)."""
    ids = []
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue(celery_app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    break
                if message.headers.get("task") == "providers.tasks.send_test_email":
                    ids.append(message.payload[0][0])
                message.ack()
        finally:
            queue.close()
    return ids


# --- access -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("providers:send_test", [1]),
        ("providers:test_email", [1]),
        ("providers:test_email_status", [1]),
        ("providers:test_connection", []),
    ],
)
def test_anonymous_users_are_sent_to_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_status_and_detail_refuse_post(client_logged_in, provider):
    test_email = TestEmail.objects.create(provider=provider, recipient="a@example.org")
    for name in ("providers:test_email", "providers:test_email_status"):
        response = client_logged_in.post(reverse(name, args=[test_email.pk]))
        assert response.status_code == 405


def test_connection_refuses_get(client_logged_in):
    assert client_logged_in.get(reverse("providers:test_connection")).status_code == 405


# --- send test email ------------------------------------------------------------------
def test_form_is_prefilled_with_the_users_address(client_logged_in, user, provider):
    response = client_logged_in.get(reverse("providers:send_test", args=[provider.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{user.email}"' in html
    assert "Send test email" in html
    assert reverse("providers:detail", args=[provider.pk]) in html  # breadcrumb


def test_post_records_the_test_email_and_enqueues_it_after_commit(
    client_logged_in, user, provider, django_capture_on_commit_callbacks
):
    published_task_ids()  # drain anything an earlier test left
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_logged_in.post(
            reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
        )

    test_email = TestEmail.objects.get()
    assert (test_email.recipient, test_email.requested_by) == ("qa@acme.test", user)
    assert test_email.status == TestEmail.Status.QUEUED
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response.url == reverse("providers:test_email", args=[test_email.pk])
    assert published_task_ids() == [test_email.pk]


def test_invalid_recipient_shows_the_form_again(client_logged_in, provider):
    response = client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]), {"recipient": "not-an-address"}
    )

    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    assert not TestEmail.objects.exists()


@pytest.mark.django_db(transaction=True)  # autocommit as in production: on_commit runs at once
def test_unreachable_broker_keeps_the_record_and_says_so(
    client_logged_in, provider, unreachable_broker
):
    response = client_logged_in.post(
        reverse("providers:send_test", args=[provider.pk]),
        {"recipient": "qa@acme.test"},
        follow=True,
    )

    test_email = TestEmail.objects.get()
    assert test_email.status == TestEmail.Status.FAILED
    assert test_email.failure_reason == TestEmail.FailureReason.QUEUE_UNAVAILABLE
    html = response.content.decode()
    assert "The test email could not be queued." in html
    assert "the task queue could not be reached" in html


@pytest.mark.django_db(transaction=True)  # autocommit: publishing happens inside the call
def test_enqueue_says_whether_it_queued(provider):
    published_task_ids()  # drain anything an earlier test left
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    assert enqueue_test_email(test_email) is True
    assert published_task_ids() == [test_email.pk]


@pytest.mark.django_db(transaction=True)
def test_enqueue_says_when_the_broker_is_unreachable(provider, unreachable_broker):
    test_email = TestEmail.objects.create(provider=provider, recipient="qa@acme.test")

    assert enqueue_test_email(test_email) is False
    test_email.refresh_from_db()
    assert test_email.failure_reason == TestEmail.FailureReason.QUEUE_UNAVAILABLE


# --- result page and status ------------------------------------------------------------
def failed_test_email(provider, **fields):
    now = timezone.now()
    values = {
        "status": TestEmail.Status.FAILED,
        "failure_reason": TestEmail.FailureReason.INVALID_RECIPIENT,
        "failure_detail": "ghost@acme.test: 550 5.1.1 User unknown",
        "esp_status_code": 550,
        "transcript": "S: 550 5.1.1 User unknown",
        "attempts": 1,
        "started_at": now,
        "finished_at": now,
    }
    values.update(fields)
    return TestEmail.objects.create(provider=provider, recipient="ghost@acme.test", **values)


def test_detail_shows_reason_in_the_seeds_words_and_what_to_check(client_logged_in, provider):
    test_email = failed_test_email(provider)

    html = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk])).content
    html = html.decode()

    assert "SMTP invalid email ID" in html
    assert "550 5.1.1 User unknown" in html
    assert "What to check:" in html and "mistyped" in html
    assert "Took" in html
    assert "data-test-email-status-url" not in html  # finished: nothing to poll
    assert "SMTP conversation" not in html  # admins only


def test_admins_see_the_smtp_conversation(admin_client_logged_in, provider):
    test_email = failed_test_email(provider)

    response = admin_client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))

    assert "SMTP conversation" in response.content.decode()


def test_pending_detail_page_polls_with_a_static_script(client_logged_in, provider):
    test_email = TestEmail.objects.create(provider=provider, recipient="a@acme.test")

    html = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk])).content
    html = html.decode()

    status_url = reverse("providers:test_email_status", args=[test_email.pk])
    assert f'data-test-email-status-url="{status_url}"' in html
    assert "js/test_email.js" in html
    assert "<script>" not in html  # no inline scripts


def test_api_failure_shows_the_esps_code_and_text(client_logged_in):
    provider = EmailProviderFactory(kind=EmailProvider.Kind.NETCORE, host="", scheme="")
    test_email = failed_test_email(
        provider,
        failure_reason=TestEmail.FailureReason.AUTH_FAILED,
        failure_detail="HTTP 401: Invalid api key",
        esp_status_code=401,
        transcript="",
    )

    html = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk])).content
    html = html.decode()

    assert "HTTP 401: Invalid api key" in html
    assert "code 401" in html
    assert "case-sensitive" in html
    assert "support" not in html.lower()


def test_status_endpoint_reports_the_verdict(client_logged_in, provider):
    test_email = failed_test_email(provider)

    data = client_logged_in.get(reverse("providers:test_email_status", args=[test_email.pk])).json()

    assert data["status"] == "failed"
    assert data["is_finished"] is True
    assert data["failure_reason_label"] == "SMTP invalid email ID"
    assert data["esp_status_code"] == 550
    assert data["duration_ms"] is not None
    assert "SMTP invalid email ID" in data["html"]


def test_status_endpoint_shows_a_row_whose_worker_died_once_beat_swept_it(
    client_logged_in, provider
):
    test_email = TestEmail.objects.create(
        provider=provider,
        recipient="a@acme.test",
        status=TestEmail.Status.SENDING,
        started_at=timezone.now() - timedelta(hours=2),
    )
    url = reverse("providers:test_email_status", args=[test_email.pk])

    assert client_logged_in.get(url).json()["status"] == "sending"  # the page only reads
    page = client_logged_in.get(reverse("providers:test_email", args=[test_email.pk]))
    assert page.status_code == 200
    assert TestEmail.objects.get(pk=test_email.pk).status == TestEmail.Status.SENDING
    sweep_stale_test_emails.apply()  # Celery beat, every minute

    data = client_logged_in.get(url).json()
    assert (data["status"], data["failure_reason"]) == ("failed", "stale")


def test_panel_lists_recent_test_emails(client_logged_in, provider):
    from django.template.loader import render_to_string

    failed_test_email(provider)
    TestEmail.objects.create(provider=provider, recipient="queued@acme.test")

    html = render_to_string("providers/_test_emails_panel.html", {"provider": provider})

    assert "queued@acme.test" in html and "ghost@acme.test" in html
    assert "SMTP invalid email ID (550)" in html


# --- test connection ------------------------------------------------------------------
def smtp_form_data(server, **overrides):
    data = {
        "_kind": "smtp",
        "nickname": "Loopback",
        "host": server.host,
        "port": str(server.port),
        "scheme": server.scheme,
        "username": SMTP_USER,
        "secret": SMTP_PASSWORD,
        "from_name": "Acme",
        "from_address": "news@acme.test",
        "reply_to_address": "",
        "preference_center": "none",
        "preference_center_url": "",
    }
    data.update(overrides)
    return data


def post_check(client: Client, data: dict) -> dict:
    response = client.post(reverse("providers:test_connection"), data)
    assert response.status_code == 200
    return response.json()


@pytest.mark.integration
def test_connection_check_walks_every_smtp_step(client_logged_in, smtp_server):
    server = smtp_server("starttls", auth=True)

    result = post_check(client_logged_in, smtp_form_data(server))

    assert result["ok"] is True
    assert [step["name"] for step in result["steps"]] == [
        "DNS lookup",
        "TCP connection",
        "Server greeting",
        "STARTTLS",
        "AUTH",
        "MAIL FROM",
    ]
    assert result["steps"][4]["detail"].startswith("235")
    assert server.messages == []  # nothing was sent
    assert not EmailProvider.objects.exists()  # nothing was saved
    assert "transcript" not in result


@pytest.mark.integration
def test_connection_check_reports_a_wrong_password(client_logged_in, smtp_server):
    server = smtp_server("smtps", auth=True)

    result = post_check(client_logged_in, smtp_form_data(server, secret="nope"))

    assert result["ok"] is False
    assert result["steps"][-1]["name"] == "AUTH"
    assert result["steps"][-1]["ok"] is False
    assert result["steps"][-1]["detail"].startswith("535")


@pytest.mark.integration
def test_connection_check_uses_the_stored_secret_when_left_blank(
    admin_client_logged_in, smtp_server
):
    server = smtp_server("smtps", auth=True)
    stored = EmailProviderFactory(
        host=server.host,
        port=server.port,
        scheme="smtps",
        username=SMTP_USER,
        secret=SMTP_PASSWORD,
        from_address="old@acme.test",
    )

    result = post_check(
        admin_client_logged_in,
        smtp_form_data(server, secret="", nickname=stored.nickname, _provider=str(stored.pk)),
    )

    assert result["ok"] is True, result
    assert "[credentials hidden]" in result["transcript"]  # admins get the conversation
    assert SMTP_PASSWORD not in result["transcript"]
    stored.refresh_from_db()
    assert stored.from_address == "old@acme.test"  # unsaved values only


@pytest.mark.integration
def test_connection_check_reports_unreachable_port(client_logged_in, smtp_server, closed_port):
    server = smtp_server("smtp")

    result = post_check(
        client_logged_in, smtp_form_data(server, port=str(closed_port), username="", secret="")
    )

    assert [(s["name"], s["ok"]) for s in result["steps"]] == [
        ("DNS lookup", True),
        ("TCP connection", False),
    ]


def test_connection_check_returns_form_errors(client_logged_in):
    result = post_check(client_logged_in, {"_kind": "smtp", "host": "", "port": "x"})

    assert result["ok"] is False
    assert "host" in result["errors"] and "port" in result["errors"]
    assert "nickname" not in result["errors"]  # irrelevant to a connection


def test_connection_check_rejects_unknown_kind(client_logged_in):
    response = client_logged_in.post(reverse("providers:test_connection"), {"_kind": "fax"})
    assert response.status_code == 400


@pytest.mark.integration
def test_connection_check_for_sendgrid_uses_the_typed_key(client_logged_in, sendgrid_api):
    sendgrid_api.reply(200, {"scopes": ["mail.send"]})

    result = post_check(
        client_logged_in,
        {
            "_kind": "sendgrid",
            "nickname": "SG",
            "secret": "SG.typed-key",
            "from_address": "news@acme.test",
            "preference_center": "none",
        },
    )

    assert result["ok"] is True, result
    assert sendgrid_api.requests[0].headers["authorization"] == "Bearer SG.typed-key"
