"""Amazon SES events through SNS: the mapping (reference part 2 §1.5), SNS signatures made
here with a key generated here (§1.3), and the real callback view over HTTP."""

import json

import httpx
import pytest

from callbacks.formats import ses
from callbacks.models import CallbackLog, EventKind
from profiles.models import Profile
from tests.aws import TOPIC_ARN
from tests.factories import EmailProviderFactory, ProfileFactory
from tests.servers import celery_worker, wait_until_applied  # noqa: F401  (fixture)

from .conftest import payload_json


def record_of(name: str) -> dict:
    """The SES record inside a fixture's SNS envelope (reference §1.4 samples)."""
    return json.loads(payload_json(name)["Message"])


def notification(record: dict, message_id: str = "sns-1") -> bytes:
    return json.dumps(
        {"Type": "Notification", "MessageId": message_id, "Message": json.dumps(record)}
    ).encode()


def kinds(body: bytes) -> list[tuple[str, str, bool]]:
    return [(e.email, e.kind, e.suppress) for e in ses.FORMAT.parse(body)]


# --- mapping ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ses_event_bounce.json", [("recipient@example.com", EventKind.HARD_BOUNCE, True)]),
        (
            "ses_legacy_bounce.json",
            [
                ("jane@example.com", EventKind.HARD_BOUNCE, True),
                ("richard@example.com", EventKind.HARD_BOUNCE, True),
            ],
        ),
        ("ses_event_complaint.json", [("recipient@example.com", EventKind.SPAM, True)]),
        ("ses_event_delivery.json", [("recipient@example.com", EventKind.DELIVERED, False)]),
        ("ses_event_mailbox_full.json", [("full@example.com", EventKind.SOFT_BOUNCE, False)]),
    ],
)
def test_reference_samples_map_one_event_per_recipient(name, expected):
    assert kinds(notification(record_of(name))) == expected


@pytest.mark.parametrize(
    ("bounce_type", "sub_type", "status", "kind", "suppress"),
    [
        ("Permanent", "General", "5.1.1", EventKind.HARD_BOUNCE, True),
        ("Permanent", "NoEmail", "5.1.1", EventKind.HARD_BOUNCE, True),
        ("Permanent", "Suppressed", "", EventKind.DROPPED, True),
        ("Permanent", "OnAccountSuppressionList", "", EventKind.DROPPED, True),
        ("Undetermined", "Undetermined", "", EventKind.SOFT_BOUNCE, False),
        ("Transient", "General", "4.4.7", EventKind.SOFT_BOUNCE, False),
        ("Transient", "General", "5.4.4", EventKind.HARD_BOUNCE, True),
        ("Transient", "General", "5.1.2", EventKind.HARD_BOUNCE, True),
        ("Transient", "MailboxFull", "5.2.2", EventKind.SOFT_BOUNCE, False),
        ("Transient", "MessageTooLarge", "5.3.4", EventKind.SOFT_BOUNCE, False),
        ("Transient", "ContentRejected", "", EventKind.SOFT_BOUNCE, False),
        ("Transient", "AttachmentRejected", "", EventKind.SOFT_BOUNCE, False),
    ],
)
def test_bounce_types_and_sub_types(bounce_type, sub_type, status, kind, suppress):
    assert ses.bounce_kind(bounce_type, sub_type, status) == (kind, suppress)


def test_complaint_variants_reject_subscription_and_ignored_events():
    mail = {"destination": ["a@example.com", "b@example.com"]}
    complaint = record_of("ses_event_complaint.json")
    not_spam = {
        **complaint,
        "complaint": {**complaint["complaint"], "complaintFeedbackType": "not-spam"},
    }
    suppressed = {
        "eventType": "Complaint",
        "complaint": {
            "complaintSubType": "OnAccountSuppressionList",
            "complainedRecipients": [{"emailAddress": "a@example.com"}],
        },
    }
    reject = {"eventType": "Reject", "reject": {"reason": "Bad content"}, "mail": mail}
    unsubscribed = {
        "eventType": "Subscription",
        "subscription": {"newTopicPreferences": {"unsubscribeAll": True}},
        "mail": {"destination": ["a@example.com"]},
    }
    delay = {"eventType": "DeliveryDelay", "mail": {"destination": ["a@example.com"]}}

    assert kinds(notification(not_spam)) == [("recipient@example.com", EventKind.IGNORED, False)]
    assert kinds(notification(suppressed)) == [("a@example.com", EventKind.DROPPED, True)]
    assert kinds(notification(reject)) == [
        ("a@example.com", EventKind.DROPPED, False),
        ("b@example.com", EventKind.DROPPED, False),
    ]
    assert kinds(notification(unsubscribed)) == [("a@example.com", EventKind.UNSUBSCRIBED, True)]
    assert kinds(notification(delay)) == [("a@example.com", EventKind.IGNORED, False)]


def test_validation_message_and_confirmations_carry_no_events():
    validated = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "x",
            "Message": "Successfully validated SNS topic for Amazon SES event publishing.",
        }
    ).encode()
    confirmation = json.dumps({"Type": "SubscriptionConfirmation", "MessageId": "y"}).encode()

    assert list(ses.FORMAT.parse(validated)) == []
    assert list(ses.FORMAT.parse(confirmation)) == []


def test_dedupe_key_is_the_sns_message_id_and_recipient():
    record = record_of("ses_legacy_bounce.json")
    first, second = ses.FORMAT.parse(notification(record, "sns-1"))
    [retried, _] = ses.FORMAT.parse(notification(record, "sns-1"))
    [other, _] = ses.FORMAT.parse(notification(record, "sns-2"))

    assert first.dedupe_key == retried.dedupe_key != second.dedupe_key
    assert other.dedupe_key != first.dedupe_key


def test_meta_comes_back_from_the_mail_headers():
    record = record_of("ses_event_delivery.json")
    record["mail"]["headers"].append({"name": "X-Postdesk-Meta", "value": "a@b.c|17|2"})

    [event] = ses.FORMAT.parse(notification(record))

    assert event.meta == "a@b.c|17|2"


# --- SNS signatures -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2"])
def test_signature_versions_1_and_2_verify_and_the_certificate_is_cached(sns, version):
    first = sns.envelope(record_of("ses_event_bounce.json"), version=version)
    second = sns.envelope(record_of("ses_event_delivery.json"), version=version)

    ses.verify_envelope(json.loads(json.dumps(first)))
    ses.verify_envelope(second)

    assert sns.requests == ["/SimpleNotificationService-test.pem"]


def test_tampered_unsigned_or_foreign_envelopes_are_refused(sns):
    good = sns.envelope(record_of("ses_event_bounce.json"))
    other_key, _ = sns_key_pair()
    refused = [
        {**good, "Message": good["Message"].replace("Permanent", "Transient")},
        {**good, "Subject": "changed"},
        {k: v for k, v in good.items() if k != "Subject"},
        {**good, "SignatureVersion": "3"},
        {k: v for k, v in good.items() if k != "Signature"},
        {**good, "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.test/x.pem"},
        {**good, "SigningCertURL": good["SigningCertURL"].replace(".pem", ".txt")},
        {**good, "SigningCertURL": good["SigningCertURL"].replace("https", "http")},
        sns.sign({k: v for k, v in good.items() if "Sign" not in k}, key=other_key),
    ]
    for envelope in refused:
        with pytest.raises(ses.SnsRefused):
            ses.verify_envelope(envelope)


def test_default_certificate_hosts_are_amazon_sns_only(settings):
    assert ses.allowed_sns_url("https://sns.eu-west-1.amazonaws.com/Sns-1.pem", pem=True)
    assert ses.allowed_sns_url("https://sns.cn-north-1.amazonaws.com.cn/Sns-1.pem", pem=True)
    assert not ses.allowed_sns_url("https://localhost/Sns-1.pem", pem=True)
    assert not ses.allowed_sns_url("https://s3.amazonaws.com/sns.x.amazonaws.com/a.pem", pem=True)


def sns_key_pair():
    from tests.aws import make_signing_cert

    return make_signing_cert()


# --- through the real view over HTTP ------------------------------------------------------------
def post_envelope(url: str, envelope: dict) -> httpx.Response:
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": envelope["Type"],
        "x-amz-sns-message-id": envelope["MessageId"],
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    return httpx.post(url, content=json.dumps(envelope).encode(), headers=headers, timeout=10)


@pytest.mark.django_db(transaction=True)
def test_sns_over_http_confirms_verifies_and_applies_in_a_real_worker(
    live_server,
    sns,
    celery_worker,  # noqa: F811
):
    provider = EmailProviderFactory(ses=True)
    for email in ("jane@example.com", "richard@example.com", "recipient@example.com"):
        ProfileFactory(email=email)
    url = live_server.url + provider.callback_path

    forged_confirmation = {**sns.confirmation(), "Token": "forged"}
    refused = post_envelope(url, forged_confirmation)
    assert refused.status_code == 403
    assert sns.requests == ["/SimpleNotificationService-test.pem"]  # SubscribeURL not fetched

    confirmed = post_envelope(url, sns.confirmation(version="2"))
    assert confirmed.status_code == 200
    assert sns.requests[-1].startswith("/?Action=ConfirmSubscription")
    provider.refresh_from_db()
    assert provider.sns_topic_arn == TOPIC_ARN

    bounce = sns.envelope(record_of("ses_legacy_bounce.json"), message_id="m-1")
    assert post_envelope(url, bounce).status_code == 200
    assert post_envelope(url, bounce).status_code == 200  # SNS retry: a duplicate
    forged = {**sns.envelope(record_of("ses_event_complaint.json")), "TopicArn": "arn:x"}
    assert post_envelope(url, forged).status_code == 403
    other_topic = sns.sign({**forged, "Signature": ""})
    assert post_envelope(url, other_topic).status_code == 403
    mismatched = sns.envelope(record_of("ses_event_complaint.json"))
    response = httpx.post(
        url,
        content=json.dumps(mismatched).encode(),
        headers={"x-amz-sns-message-id": "not-the-body's"},
        timeout=10,
    )
    assert response.status_code == 403
    wait_until_applied()

    statuses = dict(Profile.objects.values_list("email", "status"))
    assert statuses["jane@example.com"] == Profile.Status.INACTIVE
    assert statuses["richard@example.com"] == Profile.Status.INACTIVE
    assert statuses["recipient@example.com"] == Profile.Status.ACTIVE  # forged complaint
    logs = list(
        CallbackLog.objects.order_by("received_at").values_list("status_code", "duplicates")
    )
    assert logs == [(403, 0), (200, 0), (200, 0), (200, 2), (403, 0), (403, 0), (403, 0)]


def test_sample_callback_is_an_ses_notification_the_parser_reads():
    assert kinds(ses.FORMAT.sample()) == [
        ("sample@postdesk.invalid", EventKind.HARD_BOUNCE, True),
        ("sample@postdesk.invalid", EventKind.HARD_BOUNCE, True),
    ]
