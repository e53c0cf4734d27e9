"""The Mailgun form: sending domain, region, the API key and the write-only signing key."""

import pytest

from providers.forms.mailgun import MailgunProviderForm
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db

DATA = {
    "nickname": "Mailgun",
    "sending_domain": "MG.Acme.Example.",
    "region": "us",
    "secret": "key-0123456789abcdef",
    "webhook_signing_key": "signing-0123456789",
    "from_address": "news@acme.example",
    "preference_center": "none",
}


def test_saves_both_secrets_encrypted_and_the_domain_normalised():
    form = MailgunProviderForm(data=DATA)
    assert form.is_valid(), form.errors
    provider = form.save()

    assert (provider.sending_domain, provider.region) == ("mg.acme.example", "us")
    assert (provider.secret, provider.webhook_secret) == (
        DATA["secret"],
        DATA["webhook_signing_key"],
    )
    assert DATA["webhook_signing_key"] not in provider.webhook_secret_encrypted
    assert DATA["webhook_signing_key"] not in form.as_p()


def test_the_signing_key_is_required_until_one_is_stored_then_blank_keeps_it():
    form = MailgunProviderForm(data={**DATA, "webhook_signing_key": ""})
    assert "webhook_signing_key" in form.errors

    provider = EmailProviderFactory(mailgun=True)
    edit = MailgunProviderForm(
        data={**DATA, "sending_domain": "mg.example.com", "secret": "", "webhook_signing_key": ""},
        instance=provider,
    )
    assert edit.is_valid(), edit.errors
    assert edit.save().webhook_secret == "mailgun-signing-key"


@pytest.mark.parametrize("domain", ["https://mg.acme.example", "news@acme.example", "", "mg"])
def test_a_domain_that_is_not_a_domain_is_refused(domain):
    form = MailgunProviderForm(data={**DATA, "sending_domain": domain})

    assert "sending_domain" in form.errors


def test_only_us_and_eu_regions():
    assert "region" in MailgunProviderForm(data={**DATA, "region": "ap"}).errors
