"""The callback endpoint through real requests: formats, states, timelines, stats, answers."""

import json

import pytest
from django.test import override_settings

from callbacks.models import CallbackLog, DailyStat, PendingBatch, ReceivedEvent
from profiles.models import Profile, TimelineEvent
from providers.models import EmailProvider
from tests.callback_strategies import netcore_events, sendgrid_events
from tests.factories import ProfileFactory

from .conftest import payload, post

pytestmark = pytest.mark.django_db

SUCCESS = {"status": "success", "message": "Callback processed successfully"}
INACTIVE = Profile.Status.INACTIVE
ACTIVE = Profile.Status.ACTIVE


def states():
    return {p.email: (p.status, p.inactive_reason) for p in Profile.objects.order_by("email")}


def timeline(email):
    return sorted(
        (e.kind, e.properties.get("Error") or e.properties.get("Type") or "")
        for e in TimelineEvent.objects.filter(profile__email=email)
    )


def stat_totals(provider):
    fields = [
        "delivered",
        "soft_bounce",
        "hard_bounce",
        "dropped",
        "invalid",
        "spam",
        "unsubscribed",
        "ignored",
        "duplicates",
    ]
    totals = dict.fromkeys(fields, 0)
    for stat in DailyStat.objects.filter(provider=provider):
        for name in fields:
            totals[name] += getattr(stat, name)
    return {k: v for k, v in totals.items() if v}


D = TimelineEvent.Kind.NOTIFICATION_DELIVERED
F = TimelineEvent.Kind.NOTIFICATION_FAILED
U = TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED


@pytest.mark.parametrize("name", ["generic_v2_nested.json", "generic_v2_flat.json"])
def test_generic_v2_payloads_apply_to_profiles_timeline_and_stats(client, smtp_provider, name):
    ProfileFactory(email="ada@example.com")
    response = post(client, smtp_provider, payload(name))
    assert response.status_code == 200
    assert response.json() == SUCCESS
    assert states() == {
        "ada@example.com": (ACTIVE, ""),
        "barbara@example.com": (INACTIVE, "unsubscribed"),
        "grace@example.com": (INACTIVE, "hard_bounce"),
        "ken@example.com": (INACTIVE, "spam"),
        "linus@example.com": (ACTIVE, ""),
    }
    assert timeline("ada@example.com") == [(D, "")]
    assert timeline("grace@example.com") == [(U, "Hard bounce"), (F, "Hard bounce")]
    assert timeline("linus@example.com") == [(F, "Soft bounce")]
    assert timeline("ken@example.com") == [(U, "Spam")]
    assert timeline("barbara@example.com") == [(U, "Unsubscribed")]
    grace = Profile.objects.get(email="grace@example.com")
    assert grace.inactive_provider == "Generic SMTP"
    assert grace.inactive_detail == "550 5.1.1 mailbox does not exist"
    assert grace.inactive_since is not None
    unsubscribed = TimelineEvent.objects.get(profile__email="barbara@example.com")
    assert unsubscribed.properties["reason"] == "User unsubscribed from campaign"
    assert unsubscribed.properties["meta"].startswith("barbara@example.com|")
    delivered = TimelineEvent.objects.get(profile__email="ada@example.com")
    assert delivered.properties["Provider"] == "Generic email"  # seed 003's name for the type
    assert delivered.properties["Provider nickname"] == "Generic SMTP"
    assert delivered.provider_name == "Generic SMTP"
    assert Profile.objects.get(email="linus@example.com").soft_bounce_count == 1
    assert stat_totals(smtp_provider) == {
        "delivered": 1,
        "hard_bounce": 1,
        "soft_bounce": 1,
        "spam": 1,
        "unsubscribed": 1,
    }


def test_generic_v2_single_flat_object(client, smtp_provider):
    response = post(client, smtp_provider, payload("generic_v2_flat_single.json"))
    assert response.json() == SUCCESS
    assert states() == {"grace@example.com": (INACTIVE, "hard_bounce")}


def test_legacy_bounce_payload_on_a_gmail_provider(client, make_provider):
    gmail = make_provider(EmailProvider.Kind.GMAIL, host="smtp.gmail.com", port=465)
    response = post(client, gmail, payload("legacy_bounce_groups.json"))
    assert response.json() == SUCCESS
    assert states() == {
        "barbara@example.com": (INACTIVE, "unsubscribed"),
        "grace@example.com": (INACTIVE, "hard_bounce"),
        "linus@example.com": (ACTIVE, ""),
        "margaret@example.com": (ACTIVE, ""),
    }
    grace = Profile.objects.get(email="grace@example.com")
    assert int(grace.inactive_since.timestamp()) == 1435322805
    assert stat_totals(gmail) == {"soft_bounce": 2, "hard_bounce": 1, "unsubscribed": 1}
    assert CallbackLog.objects.get().payload_format == "legacy_bounce"


def test_sendgrid_payload(client, make_provider):
    sendgrid = make_provider(EmailProvider.Kind.SENDGRID)
    response = post(client, sendgrid, payload("sendgrid_events.json"))
    assert response.json() == SUCCESS
    assert states() == {
        "ada@example.com": (ACTIVE, ""),
        "alan@example.com": (INACTIVE, "unsubscribed"),
        "barbara@example.com": (INACTIVE, "unsubscribed"),
        "dennis@example.com": (INACTIVE, "dropped"),
        "edsger@example.com": (INACTIVE, "invalid"),
        "grace@example.com": (INACTIVE, "hard_bounce"),
        "john@example.com": (ACTIVE, ""),  # dropped for Spam Content: the sender's fault
        "ken@example.com": (INACTIVE, "spam"),
        "linus@example.com": (ACTIVE, ""),
        "margaret@example.com": (ACTIVE, ""),
    }
    assert timeline("john@example.com") == [(F, "Dropped")]
    assert timeline("dennis@example.com") == [(U, "Dropped"), (F, "Dropped")]
    assert timeline("edsger@example.com") == [(U, "Invalid"), (F, "Invalid")]
    alan = TimelineEvent.objects.get(profile__email="alan@example.com")
    assert "42" in alan.properties["reason"]
    delivered = TimelineEvent.objects.get(profile__email="ada@example.com")
    assert delivered.properties["meta"] == "ada@example.com|send-42|"
    assert delivered.properties["event_id"] == "rWVYmVk90MjZJ9iohOBa3w=="
    assert stat_totals(sendgrid) == {
        "delivered": 1,
        "hard_bounce": 1,
        "soft_bounce": 2,
        "dropped": 2,
        "invalid": 1,
        "spam": 1,
        "unsubscribed": 2,
        "ignored": 4,
    }
    log = CallbackLog.objects.get()
    assert (log.events_total, log.processed, log.ignored) == (14, 14, 4)


@pytest.mark.parametrize(
    ("name", "expected", "stats"),
    [
        (
            "netcore_native.json",
            {
                "ada@example.com": (ACTIVE, ""),
                "alan@example.com": (INACTIVE, "spam"),
                "barbara@example.com": (INACTIVE, "unsubscribed"),
                "dennis@example.com": (INACTIVE, "dropped"),
                "edsger@example.com": (INACTIVE, "invalid"),
                "grace@example.com": (INACTIVE, "hard_bounce"),
                "ken@example.com": (INACTIVE, "spam"),
                "linus@example.com": (ACTIVE, ""),
                "margaret@example.com": (INACTIVE, "hard_bounce"),
            },
            {
                "delivered": 1,
                "hard_bounce": 2,
                "soft_bounce": 1,
                "dropped": 1,
                "invalid": 1,
                "spam": 2,
                "unsubscribed": 1,
                "ignored": 2,
            },
        ),
        (
            "netcore_migration.json",
            {
                "ada@example.com": (ACTIVE, ""),
                "barbara@example.com": (INACTIVE, "unsubscribed"),
                "dennis@example.com": (INACTIVE, "dropped"),
                "grace@example.com": (INACTIVE, "hard_bounce"),
                "ken@example.com": (INACTIVE, "spam"),
            },
            {
                "delivered": 1,
                "hard_bounce": 1,
                "dropped": 1,
                "spam": 1,
                "unsubscribed": 1,
                "ignored": 2,
            },
        ),
    ],
)
def test_netcore_payloads(client, make_provider, name, expected, stats):
    netcore = make_provider(EmailProvider.Kind.NETCORE)
    response = post(client, netcore, payload(name))
    assert response.json() == SUCCESS
    assert states() == expected
    assert stat_totals(netcore) == stats


def test_netcore_head_probe_and_empty_array_answer_200(client, make_provider):
    netcore = make_provider(EmailProvider.Kind.NETCORE)
    assert client.head(netcore.callback_path).status_code == 200
    response = post(client, netcore, b"[]")
    assert response.status_code == 200
    assert response.json() == SUCCESS
    assert not Profile.objects.exists()
    assert list(CallbackLog.objects.values_list("method", "status_code")) == [
        ("POST", 200),
        ("HEAD", 200),
    ]


def test_partial_success_applies_the_valid_events(client, smtp_provider):
    response = post(client, smtp_provider, payload("generic_v2_partial.json"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "partial_success",
        "processed": 2,
        "failed": 2,
        "errors": [
            {"event_index": 1, "error": "Invalid email format"},
            {"event_index": 3, "error": "Could not map event to any bounce type"},
        ],
    }
    assert states() == {
        "ada@example.com": (ACTIVE, ""),
        "grace@example.com": (INACTIVE, "hard_bounce"),
    }
    log = CallbackLog.objects.get()
    assert (log.events_total, log.processed, log.failed) == (4, 2, 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid payload"),
        (b"", "invalid payload"),
        (b'"a string"', "invalid payload"),
        (b"\xff\xfe", "invalid payload"),
        (
            json.dumps(
                {
                    "version": "v2",
                    "events": {"failed": [{"type": "hard_bounce", "email": "a@example.com"}]},
                }
            ).encode(),
            "Mandatory parameter missing: meta",
        ),
        (
            json.dumps(
                [{"version": "v2", "event": "failed", "email": "a@example.com", "meta": "m"}]
            ).encode(),
            "Mandatory parameter missing: type",
        ),
        (
            json.dumps(
                {
                    "version": "v2",
                    "events": {
                        "success": [
                            {"type": "delivered", "email": f"u{i}@example.com", "meta": "m"}
                            for i in range(600)
                        ],
                        "failed": [
                            {"type": "soft_bounce", "email": f"s{i}@example.com", "meta": "m"}
                            for i in range(401)
                        ],
                    },
                }
            ).encode(),
            "More than allowed events were sent",
        ),
    ],
)
def test_bad_bodies_get_400_with_the_error_body_and_apply_nothing(
    client, smtp_provider, body, message
):
    response = post(client, smtp_provider, body)
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": message, "error_code": 400}
    assert not Profile.objects.exists()
    assert not ReceivedEvent.objects.exists()
    log = CallbackLog.objects.get()
    assert (log.status_code, log.error) == (400, message)


def test_exactly_1000_events_are_accepted(client, smtp_provider):
    body = [
        {
            "version": "v2",
            "event": "success",
            "type": "delivered",
            "email": f"u{i}@example.com",
            "meta": f"m{i}",
        }
        for i in range(1000)
    ]
    response = post(client, smtp_provider, body)
    assert response.json() == SUCCESS
    assert Profile.objects.count() == 1000


def test_unknown_token_is_404_and_reveals_nothing(client, smtp_provider):
    old_path = smtp_provider.callback_path
    smtp_provider.rotate_callback_token()
    for path in (old_path, "/callbacks/not-a-token/"):
        response = client.post(path, data=b"[]", content_type="application/json")
        assert response.status_code == 404
        assert response.json() == {"status": "error", "message": "Not found", "error_code": 404}
    assert not CallbackLog.objects.exists()
    assert post(client, smtp_provider, b"[]").status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_other_methods_get_405(client, smtp_provider, method):
    response = getattr(client, method)(smtp_provider.callback_path)
    assert response.status_code == 405
    assert response["Allow"] == "POST, HEAD"
    assert response.json()["error_code"] == 405


def test_head_answers_200_for_every_kind(client, make_provider):
    for kind in EmailProvider.Kind:
        provider = make_provider(kind)
        assert client.head(provider.callback_path).status_code == 200


@override_settings(CALLBACK_MAX_BODY_BYTES=1000)
def test_body_over_the_limit_is_413(client, smtp_provider):
    body = json.dumps([{"event": "softbounce", "data": [{"e": "a@example.com", "x": "y" * 2000}]}])
    response = post(client, smtp_provider, body.encode())
    assert response.status_code == 413
    assert response.json() == {"status": "error", "message": "Payload too large", "error_code": 413}
    assert not Profile.objects.exists()
    assert CallbackLog.objects.get().status_code == 413


def test_receive_is_csrf_exempt(smtp_provider):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert post(client, smtp_provider, payload("generic_v2_flat_single.json")).status_code == 200


def test_the_token_never_reaches_the_logs(client, smtp_provider, caplog):
    caplog.set_level("DEBUG")
    post(client, smtp_provider, b"{bad")
    post(client, smtp_provider, payload("generic_v2_flat.json"))
    client.get(smtp_provider.callback_path)
    assert smtp_provider.callback_token not in caplog.text


def test_our_own_fault_is_a_500_and_logged(client, smtp_provider, monkeypatch):
    from callbacks import inbox

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(inbox, "_store", broken)
    response = post(client, smtp_provider, payload("generic_v2_flat.json"))
    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "Server error", "error_code": 500}
    assert CallbackLog.objects.get().status_code == 500
    assert not PendingBatch.objects.exists()


def test_replayed_batch_changes_nothing(client, make_provider):
    sendgrid = make_provider(EmailProvider.Kind.SENDGRID)
    post(client, sendgrid, payload("sendgrid_events.json"))
    before = (states(), TimelineEvent.objects.count(), stat_totals(sendgrid))
    response = post(client, sendgrid, payload("sendgrid_events.json"))
    assert response.json() == SUCCESS
    after_totals = stat_totals(sendgrid)
    assert after_totals.pop("duplicates") == 14
    assert (states(), TimelineEvent.objects.count(), after_totals) == before
    assert CallbackLog.objects.first().duplicates == 14


def test_callback_log_keeps_the_body_excerpt(client, smtp_provider):
    post(client, smtp_provider, payload("generic_v2_nested.json"))
    log = CallbackLog.objects.get()
    assert log.body_excerpt.startswith("{")
    assert log.kind_counts == {
        "delivered": 1,
        "hard_bounce": 1,
        "soft_bounce": 1,
        "spam": 1,
        "unsubscribed": 1,
    }
    assert (log.method, log.status_code, log.payload_format) == ("POST", 200, "generic_v2")


LEGACY_SOFT_BOUNCE = b'[{"event": "softbounce", "data": [{"e": "ada@example.com"}]}]'


def soft_bounces(email="ada@example.com"):
    return Profile.objects.values_list("status", "soft_bounce_count").get(email=email)


def test_a_legacy_soft_bounce_without_ts_retried_three_times_counts_once(client, smtp_provider):
    """Three retries of one soft bounce under the default policy (3 in 14 days) stay Active."""
    for _ in range(3):
        assert post(client, smtp_provider, LEGACY_SOFT_BOUNCE).json() == SUCCESS
    assert soft_bounces() == (ACTIVE, 1)
    assert stat_totals(smtp_provider) == {"soft_bounce": 1, "duplicates": 2}


def test_a_legacy_retry_is_a_duplicate_for_as_long_as_keys_are_kept(client, smtp_provider):
    """The key of an event without a time lives CALLBACK_DEDUPE_DAYS from its receipt, and so
    does the memory of its body (`callbacks.replays`)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import F

    from callbacks import retention

    def time_passes(by: timedelta) -> None:
        """Everything received so far was received `by` earlier; the hourly prune runs."""
        CallbackLog.objects.update(received_at=F("received_at") - by)
        ReceivedEvent.objects.update(received_at=F("received_at") - by)
        retention.prune()

    post(client, smtp_provider, LEGACY_SOFT_BOUNCE)
    days = settings.CALLBACK_DEDUPE_DAYS
    time_passes(timedelta(days=days) - timedelta(hours=1))
    post(client, smtp_provider, LEGACY_SOFT_BOUNCE)
    assert soft_bounces() == (ACTIVE, 1)
    time_passes(timedelta(hours=2))
    post(client, smtp_provider, LEGACY_SOFT_BOUNCE)
    assert soft_bounces() == (ACTIVE, 2)


def test_a_v2_replay_is_a_duplicate_and_a_different_soft_bounce_counts(client, smtp_provider):
    item = {
        "version": "v2",
        "event": "failed",
        "type": "soft_bounce",
        "email": "ada@example.com",
        "meta": "ada@example.com|1568798080|1730714617|20241104|0|wzrk_default|-17005904|",
        "description": "Mailbox full",
    }
    post(client, smtp_provider, [item])
    post(client, smtp_provider, [item])
    assert soft_bounces() == (ACTIVE, 1)
    post(client, smtp_provider, [{**item, "description": "Mailbox still full"}])
    assert soft_bounces() == (ACTIVE, 2)
    post(client, smtp_provider, [{**item, "timestamp": 1730714700}])
    # Counted, and still Active: soft bounces never unsubscribe by default (seeds 002, 003).
    assert soft_bounces() == (ACTIVE, 3)
    assert stat_totals(smtp_provider) == {"soft_bounce": 3, "duplicates": 1}


ESP_BATCHES = {
    EmailProvider.Kind.SENDGRID: sendgrid_events,
    EmailProvider.Kind.NETCORE: netcore_events,
}


def test_the_default_body_limit_fits_a_large_sendgrid_batch_twice():
    from django.conf import settings

    body = json.dumps(sendgrid_events(5000)).encode()
    assert 2 * len(body) < settings.CALLBACK_MAX_BODY_BYTES


@pytest.mark.parametrize("kind", list(ESP_BATCHES))
def test_an_esp_batch_of_5000_events_is_accepted_and_applied(client, make_provider, kind):
    provider = make_provider(kind)
    response = post(client, provider, ESP_BATCHES[kind](5000))
    assert response.json() == SUCCESS
    assert Profile.objects.count() == 5000
    assert Profile.objects.filter(status=INACTIVE).count() == 500
    log = CallbackLog.objects.get()
    assert (log.status_code, log.events_total, log.processed) == (200, 5000, 5000)


@pytest.mark.parametrize("kind", list(ESP_BATCHES))
def test_an_esp_event_without_email_is_reported_and_the_rest_applied(client, make_provider, kind):
    provider = make_provider(kind)
    events = ESP_BATCHES[kind](1200)
    email_key = "EMAIL" if kind == EmailProvider.Kind.NETCORE else "email"
    del events[7][email_key]
    events[9] = "not an event"
    response = post(client, provider, events)
    assert response.status_code == 200
    assert response.json() == {
        "status": "partial_success",
        "processed": 1198,
        "failed": 2,
        "errors": [
            {"event_index": 7, "error": f"Mandatory parameter missing: {email_key}"},
            {"event_index": 9, "error": "invalid payload"},
        ],
    }
    assert Profile.objects.count() == 1198
    assert not Profile.objects.filter(email__in=["reader7@example.com", "reader9@example.com"])


@pytest.mark.parametrize("kind", list(ESP_BATCHES))
def test_an_address_the_parser_refuses_is_reported_as_failed(client, make_provider, kind):
    """The quick check and the worker agree: never `success` for an event then dropped."""
    provider = make_provider(kind)
    events = ESP_BATCHES[kind](3)
    email_key = "EMAIL" if kind == EmailProvider.Kind.NETCORE else "email"
    events[1][email_key] = "reader1@example.com\nreader2@example.com"
    response = post(client, provider, events)
    assert response.json()["errors"] == [{"event_index": 1, "error": "Invalid email format"}]
    assert sorted(Profile.objects.values_list("email", flat=True)) == [
        "reader0@example.com",
        "reader2@example.com",
    ]


def nested(depth: int) -> str:
    return '{"x": ' * depth + '"deep"' + "}" * depth


@pytest.mark.parametrize("depth", [101, 500, *range(900, 1000, 4), 1000, 5000])
@pytest.mark.parametrize(
    "template",
    [
        '[{"version": "v2", "event": "failed", "type": "soft_bounce", "email": "a@example.com",'
        ' "meta": DEEP}]',
        '{"version": "v2", "events": {"failed": [{"type": "soft_bounce",'
        ' "email": "a@example.com", "meta": "m", "description": DEEP}]}}',
        '[{"event": "softbounce", "data": [{"e": "a@example.com", "reason": DEEP}]}]',
    ],
    ids=["v2_flat", "v2_nested", "legacy"],
)
def test_a_deeply_nested_field_is_a_400_with_the_documented_body(
    client, smtp_provider, template, depth
):
    response = post(client, smtp_provider, template.replace("DEEP", nested(depth)).encode())
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "invalid payload", "error_code": 400}
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    "path", ["/callbacks/%00/", "/callbacks/abc%00def/", "/callbacks/TOKEN%00/"]
)
def test_a_nul_byte_in_the_token_is_404(client, smtp_provider, path):
    path = path.replace("TOKEN", smtp_provider.callback_token)
    response = client.post(path, data=b"[]", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Not found", "error_code": 404}


@pytest.mark.django_db(transaction=True)
def test_a_database_drop_mid_request_is_answered_with_the_json_error_body(
    client, smtp_provider, monkeypatch, caplog
):
    """The connection dies under the provider lookup: seed 003's 500 body, no token logged."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    lookup = EmailProvider.objects.by_callback_token

    def drop_connection_then_look_up(token):
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        params = {**connection.get_connection_params(), "dbname": connection.settings_dict["NAME"]}
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        return lookup(token)

    monkeypatch.setattr(EmailProvider.objects, "by_callback_token", drop_connection_then_look_up)
    caplog.set_level("DEBUG")
    try:
        response = client.post(
            smtp_provider.callback_path, data=b"[]", content_type="application/json"
        )
    finally:
        connection.close()  # the test client keeps the dead connection; the next query reopens
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "error", "message": "Server error", "error_code": 500}
    assert smtp_provider.callback_token not in caplog.text
    assert "Callback endpoint failed" in caplog.text
