"""Every provider kind has each of its parts, found by the kind's name alone."""

import httpx
import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from providers.adapters import ADAPTERS, adapter_for
from providers.adapters.base import wrap_network_error
from providers.adapters.http import HttpApiAdapter
from providers.adapters.smtp import PRESETS, SmtpAdapter
from providers.forms import FORMS, form_for
from providers.forms.gmail import GMAIL_PRESET, GmailProviderForm
from providers.models import EmailProvider, TestEmail
from tests.factories import EmailProviderFactory

KINDS = list(EmailProvider.Kind)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_form_and_an_adapter(kind):
    assert FORMS[kind] is form_for(kind)
    assert form_for(kind).kind == kind
    assert kind in ADAPTERS


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_its_setup_and_advice_fragments(kind):
    provider = EmailProviderFactory(kind=kind)
    test_email = TestEmail(
        provider=provider, status="failed", failure_reason=TestEmail.FailureReason.AUTH_FAILED
    )
    setup = render_to_string(f"providers/kinds/_setup_{kind}.html", {"provider": provider})
    advice = render_to_string(
        f"providers/kinds/_advice_{kind}.html", {"provider": provider, "test_email": test_email}
    )
    assert "callback URL" in setup or "Gmail" in setup
    assert setup.strip() in render_to_string(
        "providers/_setup_instructions.html", {"provider": provider}
    )
    assert advice.strip() and advice in render_to_string(
        "providers/test_email_advice.html", {"provider": provider, "test_email": test_email}
    )


def test_one_gmail_preset_serves_the_form_and_the_adapter():
    assert PRESETS[EmailProvider.Kind.GMAIL] is GMAIL_PRESET
    assert GMAIL_PRESET == {"host": "smtp.gmail.com", "port": 465, "scheme": "smtps"}
    provider = EmailProvider(kind=EmailProvider.Kind.GMAIL)
    GmailProviderForm().apply_kind(provider)
    assert (provider.host, provider.port, provider.scheme) == ("smtp.gmail.com", 465, "smtps")
    adapter = SmtpAdapter(EmailProvider(kind=EmailProvider.Kind.GMAIL))
    assert adapter.connection_settings() == ("smtp.gmail.com", 465, "smtps")


@pytest.mark.django_db
def test_the_http_esps_share_one_adapter_base():
    for kind in (EmailProvider.Kind.SENDGRID, EmailProvider.Kind.NETCORE):
        adapter = adapter_for(EmailProviderFactory(kind=kind, secret="SG.key-for-the-test"))
        assert isinstance(adapter, HttpApiAdapter)
        assert "send_path" in vars(type(adapter)) and "_send" not in vars(type(adapter))


@pytest.mark.django_db
def test_failure_reasons_are_the_models_choices():
    network = wrap_network_error(ConnectionRefusedError())
    assert isinstance(network.reason, TestEmail.FailureReason)
    adapter = adapter_for(EmailProviderFactory(sendgrid=True, secret="SG.key-for-the-test"))
    refused = adapter.api_error(httpx.Response(401, json={"errors": [{"message": "no"}]}))
    assert refused.reason is TestEmail.FailureReason.API_KEY_REFUSED
    timeout = adapter._wrap_network_error(httpx.ConnectTimeout("slow"))
    assert timeout.reason is TestEmail.FailureReason.API_TIMEOUT


def test_the_unsubscribe_page_field_is_gone():
    names = {field.name for field in EmailProvider._meta.get_fields()}
    assert "unsubscribe_page_url" not in names
    assert {"preference_center", "preference_center_url"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_pages_render_their_fragments(client_logged_in, kind):
    page = client_logged_in.get(reverse("providers:create", args=[kind])).content.decode()
    assert f"{EmailProvider.Kind(kind).label}" in page
    provider = EmailProviderFactory(kind=kind)
    edit = client_logged_in.get(reverse("providers:edit", args=[provider.pk]))
    detail = client_logged_in.get(reverse("providers:detail", args=[provider.pk]))
    assert (edit.status_code, detail.status_code) == (200, 200)


@pytest.mark.django_db
def test_the_gmail_page_names_the_preset(client_logged_in):
    page = client_logged_in.get(reverse("providers:create", args=["gmail"])).content.decode()
    assert "sends through smtp.gmail.com, port 465, SMTPS: you only give the account" in page
