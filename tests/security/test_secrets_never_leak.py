"""A planted secret never leaves the database, and only as ciphertext there.

One provider of each kind holds a planted password / API key. Deliberate failures use it (a
wrong password against a real aiosmtpd with AUTH, a 401 from the loopback SendGrid and Netcore
stubs, "Test connection" with the key typed in); then a staff user opens every dashboard and
admin page with real ids. The secret must appear in no response, in no log record (root logger
at DEBUG), and in no Django error report for a request that posted it. The callback token of a
provider must not appear in the logs of its callback requests either.
"""

import base64
import logging
import sys

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import resolve, reverse
from django.views.debug import ExceptionReporter

from callbacks import inbox
from profiles.models import Profile, ProfileImport
from providers import audit, tasks
from providers.models import EmailProvider, EmailProviderManager, TestEmail
from tests.factories import EmailProviderFactory, ProfileFactory, UserFactory
from tests.servers import SMTP_USER
from tests.url_walk import named_urls

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

PLANTED = "PLANTED-SECRET-9f3c2a71"
GMAIL_PLANTED = "PlantedSecretGmx"  # a Gmail app password is 16 letters
SECRETS = {
    EmailProvider.Kind.SMTP: f"{PLANTED}-smtp",
    EmailProvider.Kind.GMAIL: GMAIL_PLANTED,
    EmailProvider.Kind.SENDGRID: f"SG.{PLANTED}-sendgrid",
    EmailProvider.Kind.NETCORE: f"{PLANTED}-netcore",
    EmailProvider.Kind.POSTMARK: f"{PLANTED}-postmark",
    EmailProvider.Kind.SES: f"{PLANTED}-ses",
    EmailProvider.Kind.MAILGUN: f"{PLANTED}-mailgun",
}
MAILGUN_SIGNING_KEY = f"{PLANTED}-mailgun-signing"


def needles() -> list[str]:
    """The plaintexts and the ways SMTP AUTH would carry them (base64 PLAIN and LOGIN)."""
    found = [PLANTED, GMAIL_PLANTED]
    for secret in SECRETS.values():
        found.append(base64.b64encode(secret.encode()).decode())
        found.append(base64.b64encode(f"\0{SMTP_USER}\0{secret}".encode()).decode())
    return found


def assert_no_secret(text: str, where: str) -> None:
    for needle in needles():
        assert needle not in text, f"the planted secret ({needle[:12]}…) leaked into {where}"


# --- the scene ------------------------------------------------------------------------------
@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.request", "django.db.backends", "axes", "celery", "providers"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def scene(smtp_server, sendgrid_api, netcore_api):
    """Providers of every kind with planted secrets, each with a failed test email."""
    server = smtp_server("smtp", auth=True)
    smtp = EmailProviderFactory(
        nickname="Planted SMTP",
        host=server.host,
        port=server.port,
        scheme="smtp",
        username=SMTP_USER,
        secret=SECRETS[EmailProvider.Kind.SMTP],
    )
    gmail = EmailProviderFactory(
        gmail=True, nickname="Planted Gmail", secret=SECRETS[EmailProvider.Kind.GMAIL]
    )
    sendgrid = EmailProviderFactory(
        sendgrid=True, nickname="Planted SendGrid", secret=SECRETS[EmailProvider.Kind.SENDGRID]
    )
    netcore = EmailProviderFactory(
        netcore=True, nickname="Planted Netcore", secret=SECRETS[EmailProvider.Kind.NETCORE]
    )
    postmark = EmailProviderFactory(
        postmark=True, nickname="Planted Postmark", secret=SECRETS[EmailProvider.Kind.POSTMARK]
    )
    ses = EmailProviderFactory(
        ses=True, nickname="Planted SES", secret=SECRETS[EmailProvider.Kind.SES]
    )
    mailgun = EmailProviderFactory(
        mailgun=True, nickname="Planted Mailgun", secret=SECRETS[EmailProvider.Kind.MAILGUN]
    )
    mailgun.set_webhook_secret(MAILGUN_SIGNING_KEY)
    mailgun.save()
    return {
        "server": server,
        "sendgrid_api": sendgrid_api,
        "netcore_api": netcore_api,
        "providers": [smtp, gmail, sendgrid, netcore, postmark, ses, mailgun],
        "smtp": smtp,
        "sendgrid": sendgrid,
        "netcore": netcore,
    }


def fail_test_emails(scene, client: Client) -> list[TestEmail]:
    """Send a test email through each reachable provider; every one fails on its secret."""
    scene["sendgrid_api"].reply(
        401, {"errors": [{"message": "The provided authorization grant is invalid"}]}
    )
    scene["netcore_api"].reply(401, {"message": "Unauthorized", "status": "error"})
    sent = []
    for provider in (scene["smtp"], scene["sendgrid"], scene["netcore"]):
        response = client.post(
            reverse("providers:send_test", args=[provider.pk]), {"recipient": "qa@acme.test"}
        )
        assert response.status_code == 302
        test_email = TestEmail.objects.filter(provider=provider).latest("pk")
        tasks.send_test_email.apply(args=[test_email.pk])
        test_email.refresh_from_db()
        assert test_email.status == TestEmail.Status.FAILED
        refused = "auth_failed" if provider.is_smtp else "api_key_refused"
        assert test_email.failure_reason == refused
        sent.append(test_email)
    smtp_email = sent[0]
    assert "535" in smtp_email.transcript  # the real server refused the planted password
    assert "AUTH" in smtp_email.transcript
    assert (
        scene["sendgrid_api"]
        .requests[0]
        .headers["authorization"]
        .endswith(SECRETS[EmailProvider.Kind.SENDGRID])
    )  # the stub really received the key: the failure used it
    return sent


# --- every page a staff user can open -------------------------------------------------------
SKIP_GET = {"logout"}
PUBLIC_TOKEN_VIEWS = {"callbacks:receive", "profiles:preferences", "profiles:one_click_unsubscribe"}


def ids_for(name: str) -> list[int]:
    if "test_email" in name:
        return list(TestEmail.objects.values_list("pk", flat=True))
    if name.startswith("profiles:import"):
        return list(ProfileImport.objects.values_list("pk", flat=True)) or [1]
    if name.startswith("profiles:"):
        return list(Profile.objects.values_list("pk", flat=True))
    return list(EmailProvider.objects.values_list("pk", flat=True))


def dashboard_urls() -> list[str]:
    urls = []
    for name, converters in named_urls():
        if name in SKIP_GET or name in PUBLIC_TOKEN_VIEWS:
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


def admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        urls.append(reverse(f"{prefix}_add"))
        for pk in model_admin.get_queryset(None).values_list("pk", flat=True)[:10]:
            urls.append(reverse(f"{prefix}_change", args=[pk]))
            urls.append(reverse(f"{prefix}_history", args=[pk]))
    urls += [
        reverse("admin:providers_emailprovider_add") + f"?kind={k}" for k in EmailProvider.Kind
    ]
    return urls


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def test_the_secret_is_in_no_page_no_log_and_no_json(scene, staff_client, debug_logs):
    ProfileFactory(email="qa@acme.test")
    failed = fail_test_emails(scene, staff_client)
    # "Test connection" with the keys typed in: a real wrong-password AUTH and a 401.
    scene["sendgrid_api"].reply(401, {"errors": [{"message": "authorization required"}]})
    smtp = scene["smtp"]
    checks = [
        {"_kind": "smtp", "_provider": smtp.pk, "nickname": smtp.nickname, "host": smtp.host,
         "port": smtp.port, "scheme": "smtp", "username": SMTP_USER,
         "secret": SECRETS[EmailProvider.Kind.SMTP], "from_address": "news@acme.test",
         "preference_center": "none"},
        {"_kind": "sendgrid", "nickname": "Typed SendGrid",
         "secret": SECRETS[EmailProvider.Kind.SENDGRID], "from_address": "news@acme.test",
         "preference_center": "none"},
    ]  # fmt: skip
    bodies = []
    for data in checks:
        response = staff_client.post(reverse("providers:test_connection"), data)
        assert response.status_code == 200
        assert response.json()["ok"] is False, response.json()
        bodies.append(("test connection", response.content.decode()))
    # The run on the saved provider is in its audit trail, which the walk below reads.
    assert audit.history(smtp)[0].get_change_message().startswith("Tested the connection")

    urls = dashboard_urls() + admin_urls()
    assert any("/test-emails/" in url for url in urls)
    statuses = {}
    for url in urls:
        response = staff_client.get(url)
        statuses[url] = response.status_code
        bodies.append((url, body_of(response)))
    # 403: admin "add" pages of read-only models; 405: POST-only URLs.
    assert {code for code in statuses.values()} <= {200, 302, 403, 404, 405}, statuses
    pages_seen = [url for url, code in statuses.items() if code == 200]
    assert len(pages_seen) > 40

    # The failed test emails' pages and JSON show what went wrong, without the secret.
    for test_email in failed:
        status = staff_client.get(reverse("providers:test_email_status", args=[test_email.pk]))
        refused = "auth_failed" if test_email.provider.is_smtp else "api_key_refused"
        assert status.json()["failure_reason"] == refused
        bodies.append(("status json", status.content.decode()))
    smtp_detail = staff_client.get(reverse("providers:test_email", args=[failed[0].pk]))
    assert "535" in smtp_detail.content.decode()  # the transcript is on the page …

    for where, body in bodies:
        assert_no_secret(body, where)  # … and the secret is not
    assert debug_logs.records, "nothing was logged: the log check would prove nothing"
    assert_no_secret(debug_logs.text, "the log output")
    for record in debug_logs.records:
        assert_no_secret(record.getMessage(), f"log record {record.name}")


def test_invalid_forms_do_not_echo_a_typed_secret(scene, staff_client):
    for provider in scene["providers"]:
        secret = SECRETS[provider.kind]
        invalid = {"nickname": provider.nickname, "secret": secret, "from_address": "not-an-email"}
        for url in (
            reverse("providers:edit", args=[provider.pk]),
            reverse("providers:create", args=[provider.kind]),
            reverse("admin:providers_emailprovider_change", args=[provider.pk]),
            reverse("admin:providers_emailprovider_add") + f"?kind={provider.kind}",
        ):
            response = staff_client.post(url, invalid)
            assert response.status_code == 200, url  # the form again, with its errors
            assert b"not-an-email" in response.content
            assert_no_secret(response.content.decode(), f"the re-rendered form at {url}")


def test_the_database_holds_only_ciphertext(scene):
    for provider in scene["providers"]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT secret_encrypted FROM providers_emailprovider WHERE id = %s", [provider.pk]
            )
            [stored] = cursor.fetchone()
        assert stored
        assert_no_secret(stored, f"the stored column of {provider.kind}")
        assert EmailProvider.objects.get(pk=provider.pk).secret == SECRETS[provider.kind]


# --- Django's error reports for requests that posted the secret ------------------------------
def error_report(request, view, *args, **kwargs) -> tuple[str, str]:
    try:
        view(request, *args, **kwargs)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_html(), reporter.get_traceback_text()
    raise AssertionError("the view did not fail")


def explode(*args, **kwargs):
    raise RuntimeError("a bug after the form was read")


def posting(path: str, data: dict, user):
    request = RequestFactory().post(path, data)
    request.user = user
    request._dont_enforce_csrf_checks = True
    return request


@pytest.mark.parametrize("kind", list(EmailProvider.Kind))
def test_error_reports_mask_the_secret_posted_to_the_dashboard(scene, monkeypatch, kind):
    monkeypatch.setattr(audit, "record", explode)
    staff = UserFactory(is_staff=True, is_superuser=True)
    provider = next(p for p in scene["providers"] if p.kind == kind)
    secret = SECRETS[kind]
    data = {
        "nickname": f"{provider.nickname} 2",
        "host": "127.0.0.1",
        "port": 2525,
        "scheme": "smtp",
        "username": "sender@gmail.com",
        "secret": secret,
        "from_address": "news@acme.test",
        "preference_center": "none",
        "region": "us-east-1",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    }
    if kind == EmailProvider.Kind.MAILGUN:
        data |= {"sending_domain": "mg.acme.test", "region": "us"}
        data["webhook_signing_key"] = MAILGUN_SIGNING_KEY
    for path in (
        reverse("providers:create", args=[kind]),
        reverse("providers:edit", args=[provider.pk]),
    ):
        match = resolve(path)
        html, text = error_report(posting(path, data, staff), match.func, **match.kwargs)
        assert "a bug after the form was read" in text  # it is the report we wanted
        assert "secret" in text  # the field is listed …
        assert_no_secret(html, f"the HTML error report of {path}")  # … its value masked
        assert_no_secret(text, f"the text error report of {path}")


def test_error_reports_mask_the_secret_typed_into_test_connection(scene, monkeypatch):
    from providers.forms.sendgrid import SendGridProviderForm

    monkeypatch.setattr(SendGridProviderForm, "apply_kind", explode)
    staff = UserFactory(is_staff=True, is_superuser=True)
    path = reverse("providers:test_connection")
    data = {
        "_kind": "sendgrid",
        "nickname": "Typed",
        "secret": SECRETS[EmailProvider.Kind.SENDGRID],
        "from_address": "news@acme.test",
        "preference_center": "none",
    }
    html, text = error_report(posting(path, data, staff), resolve(path).func)
    assert "a bug after the form was read" in text
    assert_no_secret(html, "the HTML error report of test connection")
    assert_no_secret(text, "the text error report of test connection")


def test_error_reports_mask_the_secret_posted_to_the_admin(scene, monkeypatch):
    monkeypatch.setattr(EmailProviderManager, "add", explode)
    staff = UserFactory(is_staff=True, is_superuser=True)
    path = reverse("admin:providers_emailprovider_add") + "?kind=netcore"
    data = {
        "nickname": "Admin Netcore",
        "secret": SECRETS[EmailProvider.Kind.NETCORE],
        "from_address": "news@acme.test",
        "preference_center": "none",
    }
    model_admin = admin.site._registry[EmailProvider]
    html, text = error_report(posting(path, data, staff), model_admin.add_view)
    assert "a bug after the form was read" in text
    assert_no_secret(html, "the HTML error report of the admin")
    assert_no_secret(text, "the text error report of the admin")


# --- the callback token stays out of the logs ------------------------------------------------
def test_callback_requests_never_log_the_token(debug_logs, monkeypatch):
    provider = EmailProviderFactory(nickname="Token")
    token = provider.callback_token
    client = Client()
    path = provider.callback_path
    client.post(path, data=b"not json", content_type="application/json")  # 400
    client.get(path)  # 405
    client.head(path)  # the ESP's probe
    client.post(path, data=b"[]", content_type="application/json")  # 200

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(inbox, "_store", broken)
    body = b'[{"event": "hardbounce", "data": [{"e": "a@example.org", "ts": 1}]}]'
    assert client.post(path, data=body, content_type="application/json").status_code == 500
    provider.rotate_callback_token()
    assert client.post(path, data=b"[]", content_type="application/json").status_code == 404

    assert "database on fire" in debug_logs.text  # our 500 was logged, with its traceback
    assert token not in debug_logs.text
    assert provider.callback_token not in debug_logs.text
    for record in debug_logs.records:
        assert token not in record.getMessage()
        assert token not in str(getattr(record, "request", ""))
