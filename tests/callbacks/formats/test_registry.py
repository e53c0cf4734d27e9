"""The registry: which formats a provider kind posts, and a format by its stored name."""

import json

import pytest

from callbacks.formats import FORMATS, KIND_FORMATS, Format, SignatureError, named
from callbacks.formats.base import SAMPLE_EMAIL
from callbacks.models import CallbackLog
from providers.models import EmailProvider

from ..conftest import payload

SMTP = KIND_FORMATS[EmailProvider.Kind.SMTP]


def test_smtp_parser_tells_the_formats_apart_by_shape():
    assert SMTP.parse(payload("legacy_bounce_groups.json")).payload_format == "legacy_bounce"
    assert SMTP.parse(payload("generic_v2_nested.json")).payload_format == "generic_v2"
    assert SMTP.parse(payload("generic_v2_flat.json")).payload_format == "generic_v2"
    assert SMTP.parse(payload("generic_v2_flat_single.json")).payload_format == "generic_v2"


def test_an_empty_array_is_an_empty_generic_v2_batch_for_smtp():
    batch = SMTP.parse(b"[]")
    assert (batch.total, batch.payload_format) == (0, "generic_v2")
    assert SMTP.check(b"[]").payload_format == "generic_v2"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("generic_v2", "generic_v2"),
        ("legacy_bounce", "legacy_bounce"),
        ("sendgrid", "sendgrid"),
        ("netcore", "netcore"),
        ("netcore_migration", "netcore"),
    ],
)
def test_every_stored_payload_format_names_the_format_that_reads_it(name, module):
    assert named(name).__module__ == f"callbacks.formats.{module}"


def test_every_format_reports_only_names_the_registry_finds():
    """What the endpoint stores with a batch is what the inbox looks the format up by."""
    for kind, entry in KIND_FORMATS.items():
        body = entry.sample_format.sample()
        report = entry.check(body)
        assert named(report.payload_format) in entry.formats, kind
        assert named(report.payload_format).parse(body) == entry.parse(body)


@pytest.mark.parametrize(
    ("kind", "format_name"),
    [
        (EmailProvider.Kind.SMTP, "generic_v2"),
        (EmailProvider.Kind.GMAIL, "legacy_bounce"),
        (EmailProvider.Kind.SENDGRID, "sendgrid"),
        (EmailProvider.Kind.NETCORE, "netcore"),
        (EmailProvider.Kind.POSTMARK, "postmark"),
    ],
)
def test_each_kind_samples_in_its_own_format(kind, format_name):
    entry = KIND_FORMATS[kind]
    body = entry.sample_format.sample()
    assert entry.check(body).payload_format == format_name
    assert SAMPLE_EMAIL in json.dumps(json.loads(body))


def test_only_the_signed_formats_verify_a_request():
    """Every format has `verify`; the endpoint runs it for all, without asking the kind."""
    verifying = [fmt.name for fmt in FORMATS if type(fmt).verify is not Format.verify]
    assert verifying == ["sendgrid", "postmark", "ses", "mailgun"]


@pytest.mark.django_db
def test_the_endpoint_runs_the_verify_of_every_format_of_the_kind(
    client, smtp_provider, monkeypatch
):
    """No kind is special: a format that verifies gets its say before the body is checked."""

    def refuse(provider, body, headers):
        raise SignatureError("not from the ESP")

    monkeypatch.setattr(KIND_FORMATS[EmailProvider.Kind.SMTP].formats[-1], "verify", refuse)
    response = client.post(smtp_provider.callback_path, data=b"[]", content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid signature", "error_code": 403}
    assert CallbackLog.objects.get().error == "not from the ESP"
