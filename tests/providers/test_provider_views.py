"""Settings > Email > Providers through real HTTP requests, with the database asserted."""

import datetime

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.urls import reverse
from django.utils import timezone

from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

Kind = EmailProvider.Kind

SMTP_PASSWORD = "smtp-pa55word-XYZ9"
GMAIL_APP_PASSWORD = "abcdefghijklmnop"
SENDGRID_KEY = "SG.sendgrid-key-VALUE-7777"
NETCORE_KEY = "netcore-api-key-VALUE-8888"
POSTMARK_TOKEN = "postmark-server-token-VALUE-6666"
SES_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MAILGUN_KEY = "key-mailgun-api-VALUE-6666"

COMMON = {
    "from_name": "Acme News",
    "from_address": "news@acme.example",
    "reply_to_address": "replies@acme.example",
    "preference_center": "none",
    "preference_center_url": "",
}

VALID_POSTS = {
    Kind.SMTP: {
        "nickname": "Acme SMTP",
        "host": "smtp.acme.example",
        "port": "587",
        "scheme": "starttls",
        "username": "mailer",
        "secret": SMTP_PASSWORD,
        **COMMON,
    },
    Kind.GMAIL: {
        "nickname": "Acme Gmail",
        "username": "sender@gmail.com",
        "secret": "abcd efgh ijkl mnop",
        **COMMON,
    },
    Kind.SENDGRID: {"nickname": "Acme SendGrid", "secret": SENDGRID_KEY, **COMMON},
    Kind.NETCORE: {
        "nickname": "Acme Netcore",
        "secret": NETCORE_KEY,
        **COMMON,
        "preference_center": "custom",
        "preference_center_url": "https://acme.example/unsubscribe",
    },
}
VALID_POSTS[Kind.POSTMARK] = {"nickname": "Acme Postmark", "secret": POSTMARK_TOKEN, **COMMON}
VALID_POSTS[Kind.SES] = {
    "nickname": "Acme SES",
    "region": "eu-west-1",
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret": SES_SECRET,
    "configuration_set": "postdesk",
    **COMMON,
}
VALID_POSTS[Kind.MAILGUN] = {
    "nickname": "Acme Mailgun",
    "sending_domain": "mg.acme.example",
    "region": "eu",
    "secret": MAILGUN_KEY,
    "webhook_signing_key": "mailgun-signing-key-5555",
    **COMMON,
}

SECRETS = {
    Kind.SMTP: SMTP_PASSWORD,
    Kind.GMAIL: GMAIL_APP_PASSWORD,
    Kind.SENDGRID: SENDGRID_KEY,
    Kind.NETCORE: NETCORE_KEY,
    Kind.POSTMARK: POSTMARK_TOKEN,
    Kind.SES: SES_SECRET,
    Kind.MAILGUN: MAILGUN_KEY,
}

TRAITS = {Kind.SMTP: {}, Kind.GMAIL: {"gmail": True}, Kind.SENDGRID: {"sendgrid": True}}
TRAITS[Kind.NETCORE] = {"netcore": True}
TRAITS[Kind.POSTMARK] = {"postmark": True}
TRAITS[Kind.SES] = {"ses": True}
TRAITS[Kind.MAILGUN] = {"mailgun": True}


def _create(client, provider_kind, **overrides):
    data = {**VALID_POSTS[provider_kind], **overrides}
    return client.post(reverse("providers:create", args=[provider_kind]), data)


def _edit_data(provider, **overrides):
    """What the edit page would post back: the current values, with the secret blank."""
    data = {
        "nickname": provider.nickname,
        "host": provider.host,
        "port": provider.port or "",
        "scheme": provider.scheme,
        "username": provider.username,
        "secret": "",
        "from_name": provider.from_name,
        "from_address": provider.from_address,
        "reply_to_address": provider.reply_to_address,
        "region": provider.region,
        "access_key_id": provider.access_key_id,
        "preference_center": provider.preference_center,
        "preference_center_url": provider.preference_center_url,
        "webhook_verification_key": provider.webhook_verification_key,
        "sending_domain": provider.sending_domain,
    }
    data.update(overrides)
    return data


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,args",
    [
        ("providers:list", []),
        ("providers:add", []),
        ("providers:create", ["smtp"]),
        ("providers:detail", [1]),
        ("providers:edit", [1]),
        ("providers:delete", [1]),
    ],
)
def test_anonymous_user_is_sent_to_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_cannot_mark_default(client):
    provider = EmailProviderFactory(is_default=False)
    response = client.post(reverse("providers:mark_default", args=[provider.pk]))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.is_default is False


@pytest.mark.parametrize("name", ["providers:mark_default"])
def test_state_changes_refuse_get(admin_client_logged_in, name):
    provider = EmailProviderFactory()
    token = provider.callback_token
    response = admin_client_logged_in.get(reverse(name, args=[provider.pk]))
    assert response.status_code == 405
    provider.refresh_from_db()
    assert provider.callback_token == token
    assert provider.is_default is False


def test_unknown_kind_is_404(client_logged_in):
    assert client_logged_in.get(reverse("providers:create", args=["mailchimp"])).status_code == 404
    response = client_logged_in.post(
        reverse("providers:create", args=["mailchimp"]), VALID_POSTS[Kind.SMTP]
    )
    assert response.status_code == 404
    assert not EmailProvider.objects.exists()


def test_missing_provider_is_404(client_logged_in):
    for name in ("providers:detail", "providers:edit", "providers:delete"):
        assert client_logged_in.get(reverse(name, args=[999])).status_code == 404


# --- list -----------------------------------------------------------------------------------


def test_empty_list_guides_first_setup(client_logged_in):
    response = client_logged_in.get(reverse("providers:list"))
    assert response.status_code == 200
    assert b"Set up your first email provider" in response.content
    assert reverse("providers:add").encode() in response.content


def test_list_shows_each_provider_with_default_badge_and_actions(client_logged_in):
    default = EmailProviderFactory(nickname="Main", is_default=True, from_address="a@x.example")
    other = EmailProviderFactory(nickname="Backup", sendgrid=True, from_address="b@x.example")
    response = client_logged_in.get(reverse("providers:list"))
    html = response.content.decode()
    assert "Main" in html and "Backup" in html
    assert "a@x.example" in html and "b@x.example" in html
    assert "SendGrid" in html and "Generic SMTP" in html
    assert html.count(">Default</span>") == 1
    assert reverse("providers:mark_default", args=[other.pk]) in html
    assert reverse("providers:mark_default", args=[default.pk]) not in html
    for name in ("providers:edit", "providers:send_test", "providers:delete"):
        assert reverse(name, args=[other.pk]) in html


def test_list_counts_bounces_of_the_last_30_days_without_a_query_per_row(
    client_logged_in, django_assert_max_num_queries
):
    from callbacks.models import DailyStat

    today = timezone.localdate()
    busy = EmailProviderFactory(nickname="Busy", is_default=True)
    EmailProviderFactory(nickname="Quiet")
    DailyStat.objects.create(provider=busy, date=today, soft_bounce=2, hard_bounce=3, delivered=9)
    DailyStat.objects.create(
        provider=busy, date=today - datetime.timedelta(days=3), soft_bounce=1, hard_bounce=0
    )
    DailyStat.objects.create(
        provider=busy, date=today - datetime.timedelta(days=45), soft_bounce=100, hard_bounce=100
    )
    for n in range(5):
        EmailProviderFactory(nickname=f"Extra {n}")
    with django_assert_max_num_queries(6):
        response = client_logged_in.get(reverse("providers:list"))
    rows = {p.nickname: p.recent_bounces for p in response.context["providers"]}
    assert rows["Busy"] == 6
    assert rows["Quiet"] is None


# --- choose a kind --------------------------------------------------------------------------


def test_choose_kind_redirects_to_that_kinds_form(client_logged_in):
    page = client_logged_in.get(reverse("providers:add"))
    assert page.status_code == 200
    assert b'for="id_kind"' in page.content
    response = client_logged_in.get(reverse("providers:add"), {"kind": "sendgrid"})
    assert response.status_code == 302
    assert response["Location"] == reverse("providers:create", args=["sendgrid"])


def test_choose_kind_with_unknown_kind_shows_an_error(client_logged_in):
    response = client_logged_in.get(reverse("providers:add"), {"kind": "pigeon"})
    assert response.status_code == 200
    assert response.context["form"].errors["kind"]


# --- create ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_create_each_kind_saves_it_encrypted_and_makes_the_first_default(
    client_logged_in, user, kind
):
    form_page = client_logged_in.get(reverse("providers:create", args=[kind]))
    assert form_page.status_code == 200
    assert b"providers/_test_connection.html" not in form_page.content  # rendered, not named

    response = _create(client_logged_in, kind)
    provider = EmailProvider.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("providers:detail", args=[provider.pk])
    assert provider.kind == kind
    assert provider.nickname == VALID_POSTS[kind]["nickname"]
    assert provider.from_address == "news@acme.example"
    assert provider.is_default is True
    assert provider.secret == SECRETS[kind]
    assert SECRETS[kind] not in provider.secret_encrypted
    assert provider.secret_last4 == SECRETS[kind][-4:]
    assert provider.secret_changed_at is not None
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (user, ADDITION, str(provider.pk))


def test_create_second_provider_is_not_default(client_logged_in):
    first = EmailProviderFactory(is_default=True)
    _create(client_logged_in, Kind.SENDGRID)
    second = EmailProvider.objects.exclude(pk=first.pk).get()
    assert second.is_default is False
    assert EmailProvider.objects.get(is_default=True) == first


def test_gmail_create_applies_the_smtps_preset_and_ignores_posted_connection(client_logged_in):
    _create(
        client_logged_in,
        Kind.GMAIL,
        host="evil.example",
        port="25",
        scheme="smtp",
        from_address="",
    )
    provider = EmailProvider.objects.get()
    assert (provider.host, provider.port, provider.scheme) == ("smtp.gmail.com", 465, "smtps")
    assert provider.username == "sender@gmail.com"
    assert provider.from_address == "sender@gmail.com"


def test_netcore_unsubscribe_page_is_its_one_preference_center_choice(client_logged_in):
    page = client_logged_in.get(reverse("providers:create", args=[Kind.NETCORE])).content.decode()
    assert page.count("Unsubscribe Page") == 1
    assert "Email Preference Center" not in page
    _create(client_logged_in, Kind.NETCORE)
    provider = EmailProvider.objects.get()
    assert provider.preference_center == EmailProvider.PreferenceCenter.CUSTOM
    assert provider.preference_center_url == "https://acme.example/unsubscribe"


def test_custom_preference_center_requires_and_keeps_the_url(client_logged_in):
    response = _create(client_logged_in, Kind.SENDGRID, preference_center="custom")
    assert response.status_code == 200
    assert "preference_center_url" in response.context["form"].errors
    assert not EmailProvider.objects.exists()

    _create(
        client_logged_in,
        Kind.SENDGRID,
        preference_center="custom",
        preference_center_url="https://acme.example/prefs",
    )
    assert EmailProvider.objects.get().preference_center_url == "https://acme.example/prefs"


def test_preference_center_url_is_dropped_unless_custom(client_logged_in):
    _create(
        client_logged_in,
        Kind.SENDGRID,
        preference_center="system",
        preference_center_url="not even a url",
    )
    provider = EmailProvider.objects.get()
    assert provider.preference_center == "system"
    assert provider.preference_center_url == ""


def test_create_page_shows_the_callback_url_it_will_keep(client_logged_in):
    page = client_logged_in.get(reverse("providers:create", args=["smtp"]))
    shown = page.context["callback_url"]
    signature = page.context["form"]["callback_signature"].value()
    assert f'value="{shown}" readonly' in page.content.decode()
    _create(client_logged_in, Kind.SMTP, callback_signature=signature)
    assert EmailProvider.objects.get().callback_url == shown


def test_forged_callback_token_on_create_is_ignored(client_logged_in):
    _create(
        client_logged_in,
        Kind.SMTP,
        callback_token="attacker-chosen",
        callback_url="https://evil.example/x",
        callback_signature="attacker-chosen:forged:signature",
        is_default="off",
        kind="sendgrid",
    )
    provider = EmailProvider.objects.get()
    assert provider.callback_token != "attacker-chosen"
    assert len(provider.callback_token) >= 22  # 128+ bits in URL-safe base64
    assert provider.kind == Kind.SMTP
    assert provider.is_default is True


@pytest.mark.parametrize(
    "kind,field,value",
    [
        (Kind.SMTP, "host", "smtp://smtp.acme.example"),
        (Kind.SMTP, "host", "smtp acme.example"),
        (Kind.SMTP, "host", "-bad-.example"),
        (Kind.SMTP, "host", "smtp.acme.example:587"),
        (Kind.SMTP, "host", ""),
        (Kind.SMTP, "port", "0"),
        (Kind.SMTP, "port", "65536"),
        (Kind.SMTP, "port", "twenty-five"),
        (Kind.SMTP, "port", ""),
        (Kind.SMTP, "scheme", "ssl"),
        (Kind.SMTP, "scheme", ""),
        (Kind.SMTP, "secret", ""),
        (Kind.SMTP, "from_address", "not-an-address"),
        (Kind.SMTP, "reply_to_address", "@acme.example"),
        (Kind.SMTP, "nickname", "   "),
        (Kind.SMTP, "preference_center", "sometimes"),
        (Kind.GMAIL, "username", "sender"),
        (Kind.GMAIL, "secret", "my-normal-password"),
        (Kind.GMAIL, "secret", ""),
        (Kind.SENDGRID, "secret", "not-a-sendgrid-key"),
        (Kind.SENDGRID, "secret", ""),
        (Kind.SENDGRID, "webhook_verification_key", "not base64!"),
        (Kind.SENDGRID, "from_address", ""),
        (Kind.NETCORE, "secret", ""),
        (Kind.NETCORE, "preference_center_url", "javascript:alert(1)"),
        (Kind.NETCORE, "preference_center_url", "ftp://acme.example/u"),
    ],
)
def test_bad_input_gets_a_field_error_not_a_500(client_logged_in, kind, field, value):
    response = _create(client_logged_in, kind, **{field: value})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert b"is-invalid" in response.content
    assert not EmailProvider.objects.exists()


def test_duplicate_nickname_is_a_field_error(client_logged_in):
    EmailProviderFactory(nickname="Acme SMTP")
    response = _create(client_logged_in, Kind.SMTP, nickname="acme smtp")
    assert response.status_code == 200
    assert "nickname" in response.context["form"].errors
    assert EmailProvider.objects.count() == 1


def test_smtp_without_login_is_allowed_but_password_needs_a_username(client_logged_in):
    response = _create(client_logged_in, Kind.SMTP, username="")
    assert "username" in response.context["form"].errors
    _create(client_logged_in, Kind.SMTP, username="", secret="")
    provider = EmailProvider.objects.get()
    assert provider.username == "" and not provider.has_secret


# --- detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_detail_shows_settings_callback_url_and_setup_steps(client_logged_in, kind):
    provider = EmailProviderFactory(nickname="Shown", secret="a-long-secret-9876", **TRAITS[kind])
    response = client_logged_in.get(reverse("providers:detail", args=[provider.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="callback-url"' in html
    assert f'value="{provider.callback_url}" readonly' in html
    assert 'data-copy-target="#callback-url"' in html
    assert "••••9876" in html
    assert "a-long-secret-9876" not in html
    expected_step = {
        Kind.SENDGRID: "Marked as Spam",
        Kind.NETCORE: "Abuse",
        Kind.SMTP: "v2",
        Kind.GMAIL: "hardbounce",
        Kind.POSTMARK: "Subscription Change",
        Kind.SES: "Configuration sets",
        Kind.MAILGUN: "HTTP webhook signing key",
    }[kind]
    assert expected_step in html
    assert "Rotate callback URL" not in html  # not staff


def test_detail_shows_audit_trail_and_rotate_button_to_staff(admin_client_logged_in):
    provider = EmailProviderFactory()
    admin_client_logged_in.post(reverse("providers:mark_default", args=[provider.pk]))
    response = admin_client_logged_in.get(reverse("providers:detail", args=[provider.pk]))
    html = response.content.decode()
    assert "Rotate callback URL" in html
    assert "Marked as the default provider." in html


# --- edit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_edit_each_kind_saves_and_says_so(client_logged_in, user, kind):
    provider = EmailProviderFactory(**TRAITS[kind])
    response = client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]),
        _edit_data(provider, nickname="Renamed", from_address="new@acme.example"),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("providers:list")
    assert "Email settings updated successfully" in [str(m) for m in response.context["messages"]]
    provider.refresh_from_db()
    assert provider.nickname == "Renamed"
    assert provider.from_address == "new@acme.example"
    assert provider.kind == kind
    entry = LogEntry.objects.get(action_flag=CHANGE)
    assert entry.user == user
    assert "From Address" in entry.get_change_message()


def test_edit_keeps_secret_when_blank(client_logged_in):
    provider = EmailProviderFactory(secret="keep-this-secret-1234")
    before = (provider.secret_encrypted, provider.secret_changed_at)
    client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]), _edit_data(provider, secret="")
    )
    provider.refresh_from_db()
    assert provider.secret == "keep-this-secret-1234"
    assert (provider.secret_encrypted, provider.secret_changed_at) == before


def test_edit_replaces_secret_when_given_and_logs_no_value(client_logged_in):
    provider = EmailProviderFactory(sendgrid=True, secret="SG.old-key-value-0000")
    client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]),
        _edit_data(provider, secret="SG.brand-new-key-1111"),
    )
    provider.refresh_from_db()
    assert provider.secret == "SG.brand-new-key-1111"
    assert provider.secret_last4 == "1111"
    message = LogEntry.objects.get().change_message
    assert "secret" in message
    assert "SG.brand-new-key-1111" not in message and "1111" not in message


def test_edit_page_never_renders_the_secret(client_logged_in):
    provider = EmailProviderFactory(secret="hidden-secret-value-4242")
    response = client_logged_in.get(reverse("providers:edit", args=[provider.pk]))
    html = response.content.decode()
    assert "hidden-secret-value-4242" not in html
    assert provider.secret_encrypted not in html
    assert "••••4242" in html
    assert 'name="secret"' in html and 'type="password"' in html


def test_edit_cannot_change_callback_url_kind_or_default_by_forged_post(client_logged_in):
    provider = EmailProviderFactory(is_default=False)
    token = provider.callback_token
    client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]),
        _edit_data(
            provider,
            callback_token="attacker-chosen",
            callback_url="https://evil.example/",
            kind="sendgrid",
            is_default="on",
            secret_encrypted="garbage",
        ),
    )
    provider.refresh_from_db()
    assert provider.callback_token == token
    assert provider.kind == Kind.SMTP
    assert provider.is_default is False
    assert provider.secret == "s3cret-password"


def test_edit_with_bad_input_keeps_the_row(client_logged_in):
    provider = EmailProviderFactory(nickname="Stable")
    response = client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]),
        _edit_data(provider, nickname="Changed", port="70000", host="bad host"),
    )
    assert response.status_code == 200
    assert {"port", "host"} <= set(response.context["form"].errors)
    provider.refresh_from_db()
    assert provider.nickname == "Stable"
    assert not LogEntry.objects.exists()


def test_edit_to_a_taken_nickname_is_a_field_error(client_logged_in):
    EmailProviderFactory(nickname="Taken")
    provider = EmailProviderFactory(nickname="Mine")
    response = client_logged_in.post(
        reverse("providers:edit", args=[provider.pk]), _edit_data(provider, nickname="Taken")
    )
    assert "nickname" in response.context["form"].errors
    provider.refresh_from_db()
    assert provider.nickname == "Mine"


# --- secrets never appear --------------------------------------------------------------------


def test_no_page_renders_any_secret(client_logged_in):
    secrets = {
        "smtp-secret-VALUE-0001": {},
        "abcdefghijklmnop": {"gmail": True},
        "SG.sendgrid-secret-VALUE-0003": {"sendgrid": True},
        "netcore-secret-VALUE-0004": {"netcore": True},
    }
    providers = [EmailProviderFactory(secret=s, **traits) for s, traits in secrets.items()]
    pages = [reverse("providers:list"), reverse("providers:add")]
    for provider in providers:
        pages += [
            reverse(name, args=[provider.pk])
            for name in ("providers:detail", "providers:edit", "providers:delete")
        ]
    for url in pages:
        html = client_logged_in.get(url).content.decode()
        for secret in secrets:
            assert secret not in html, url
        for provider in providers:
            assert provider.secret_encrypted not in html, url


def test_invalid_post_does_not_echo_the_typed_secret(client_logged_in):
    response = _create(client_logged_in, Kind.SMTP, port="0", secret="typed-secret-5555")
    assert response.status_code == 200
    assert b"typed-secret-5555" not in response.content


# --- mark default -----------------------------------------------------------------------------


def test_mark_default_moves_the_mark_and_is_audited(client_logged_in, user):
    old = EmailProviderFactory(is_default=True)
    new = EmailProviderFactory()
    response = client_logged_in.post(reverse("providers:mark_default", args=[new.pk]))
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.is_default, new.is_default) == (False, True)
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id) == (user, str(new.pk))


def test_mark_default_on_the_default_changes_nothing(client_logged_in):
    provider = EmailProviderFactory(is_default=True)
    client_logged_in.post(reverse("providers:mark_default", args=[provider.pk]))
    provider.refresh_from_db()
    assert provider.is_default
    assert not LogEntry.objects.exists()


# --- delete -----------------------------------------------------------------------------------


def test_delete_first_shows_a_warning_and_removes_nothing(client_logged_in):
    provider = EmailProviderFactory()
    response = client_logged_in.get(reverse("providers:delete", args=[provider.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "callback URL stops accepting events" in html
    assert "Campaigns and test emails can no longer go out through it" in html
    assert EmailProvider.objects.filter(pk=provider.pk).exists()


@pytest.mark.parametrize("kind", list(Kind))
def test_delete_each_kind(client_logged_in, user, kind):
    keep = EmailProviderFactory(is_default=True)
    provider = EmailProviderFactory(**TRAITS[kind])
    response = client_logged_in.post(reverse("providers:delete", args=[provider.pk]))
    assert response.status_code == 302
    assert list(EmailProvider.objects.all()) == [keep]
    keep.refresh_from_db()
    assert keep.is_default
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert (entry.user, entry.object_id, entry.object_repr) == (
        user,
        str(provider.pk),
        provider.nickname,
    )


def test_deleting_the_default_asks_who_takes_over(client_logged_in):
    default = EmailProviderFactory(nickname="A default", is_default=True)
    EmailProviderFactory(nickname="B older")
    heir = EmailProviderFactory(nickname="C chosen")
    page = client_logged_in.get(reverse("providers:delete", args=[default.pk]))
    assert b'for="id_successor"' in page.content

    response = client_logged_in.post(
        reverse("providers:delete", args=[default.pk]), {"successor": heir.pk}
    )
    assert response.status_code == 302
    assert EmailProvider.objects.get(is_default=True) == heir


def test_deleting_the_default_with_a_bad_successor_is_refused(client_logged_in):
    default = EmailProviderFactory(is_default=True)
    EmailProviderFactory()
    response = client_logged_in.post(
        reverse("providers:delete", args=[default.pk]), {"successor": default.pk}
    )
    assert response.status_code == 200
    assert "successor" in response.context["form"].errors
    default.refresh_from_db()
    assert default.is_default


def test_deleting_the_last_provider_warns_nothing_is_left(client_logged_in):
    provider = EmailProviderFactory(is_default=True)
    page = client_logged_in.get(reverse("providers:delete", args=[provider.pk]))
    assert b"It is your only provider" in page.content
    response = client_logged_in.post(reverse("providers:delete", args=[provider.pk]), follow=True)
    assert not EmailProvider.objects.exists()
    texts = " ".join(str(m) for m in response.context["messages"])
    assert "No email provider is left" in texts


def test_delete_refuses_get_as_a_change(client_logged_in):
    provider = EmailProviderFactory()
    client_logged_in.get(reverse("providers:delete", args=[provider.pk]), {"confirm": "yes"})
    assert EmailProvider.objects.filter(pk=provider.pk).exists()


# --- rotate the callback URL -------------------------------------------------------------------


def test_staff_can_rotate_the_callback_url_and_the_old_one_stops_working(
    admin_client_logged_in, staff_user
):
    provider = EmailProviderFactory()
    old_token, old_path = provider.callback_token, provider.callback_path
    response = admin_client_logged_in.post(reverse("providers:rotate_callback", args=[provider.pk]))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.callback_token != old_token
    assert len(provider.callback_token) >= 22
    assert not EmailProvider.objects.filter(callback_token=old_token).exists()
    assert provider.callback_path != old_path
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id) == (staff_user, str(provider.pk))
    assert "Rotated" in entry.change_message


def test_rotate_asks_for_confirmation_first_and_says_the_url_dies_at_once(
    admin_client_logged_in,
):
    provider = EmailProviderFactory(nickname="Relay")
    token = provider.callback_token
    url = reverse("providers:rotate_callback", args=[provider.pk])

    response = admin_client_logged_in.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "stops working the moment you rotate" in html
    assert provider.callback_url in html
    assert f'action="{url}"' in html and 'method="post"' in html
    provider.refresh_from_db()
    assert provider.callback_token == token  # only the confirmation page, nothing rotated
    detail = admin_client_logged_in.get(reverse("providers:detail", args=[provider.pk]))
    assert f'href="{url}"' in detail.content.decode()  # the detail page links to the page


ROTATE_POSTER = {  # who posts to the callback URL, as each kind's rotate page says it
    "smtp": "your own bounce processing or relay posts them to the current URL",
    "gmail": "Gmail does not post delivery events itself",
    "sendgrid": "SendGrid's Event Webhook still posts events to the current URL",
    "netcore": "Netcore's webhooks still post events to the current URL",
}


@pytest.mark.parametrize("kind", sorted(ROTATE_POSTER))
def test_rotate_page_says_who_posts_to_the_url_for_each_kind(admin_client_logged_in, kind):
    provider = EmailProviderFactory(**({} if kind == "smtp" else {kind: True}))
    url = reverse("providers:rotate_callback", args=[provider.pk])

    html = admin_client_logged_in.get(url).content.decode()

    assert ROTATE_POSTER[kind] in html
    assert f"{provider.get_kind_display()}'s webhook settings" not in html
    assert f"{provider.get_kind_display()} still posts" not in html


def test_rotate_refuses_other_methods(admin_client_logged_in):
    provider = EmailProviderFactory()
    response = admin_client_logged_in.put(reverse("providers:rotate_callback", args=[provider.pk]))
    assert response.status_code == 405


@pytest.mark.parametrize("method", ["get", "post"])
def test_non_staff_cannot_see_or_use_the_rotate_page(client_logged_in, method):
    provider = EmailProviderFactory()
    token = provider.callback_token
    url = reverse("providers:rotate_callback", args=[provider.pk])
    assert getattr(client_logged_in, method)(url).status_code == 403
    provider.refresh_from_db()
    assert provider.callback_token == token


def test_non_staff_cannot_rotate(client_logged_in):
    provider = EmailProviderFactory()
    token = provider.callback_token
    response = client_logged_in.post(reverse("providers:rotate_callback", args=[provider.pk]))
    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.callback_token == token


def test_secret_is_masked_in_error_reports(client_logged_in):
    from django.views.debug import SafeExceptionReporterFilter

    response = _create(client_logged_in, Kind.SMTP, port="0", secret="report-secret-6060")
    request = response.wsgi_request
    assert request.sensitive_post_parameters == ("secret", "webhook_signing_key")
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed["secret"] != "report-secret-6060"


@pytest.mark.django_db
def test_the_provider_page_names_each_kinds_own_settings_and_secret(client_logged_in):
    ses = EmailProviderFactory(ses=True, nickname="SES", configuration_set="postdesk")
    mailgun = EmailProviderFactory(mailgun=True, nickname="Mailgun")
    ses_page = client_logged_in.get(reverse("providers:detail", args=[ses.pk])).content.decode()
    assert "Secret access key" in ses_page and "API Key" not in ses_page
    assert "us-east-1" in ses_page and "AKIAIOSFODNN7EXAMPLE" in ses_page and "postdesk" in ses_page
    mailgun_page = client_logged_in.get(reverse("providers:detail", args=[mailgun.pk]))
    assert "mg.example.com" in mailgun_page.content.decode()
    assert "Webhook signing key" in mailgun_page.content.decode()
