"""What every provider form shares: one form per kind, labels, the write-only secret."""

import pytest

from providers.forms import form_for
from providers.forms.gmail import GmailProviderForm
from providers.forms.sendgrid import SendGridProviderForm
from providers.forms.smtp import SmtpProviderForm
from providers.models import EmailProvider
from tests.factories import EmailProviderFactory


def test_each_kind_has_its_form():
    for kind in EmailProvider.Kind:
        assert form_for(kind).kind == kind
    with pytest.raises(KeyError):
        form_for("pigeon")


def test_labels_follow_the_documents():
    smtp = SmtpProviderForm()
    labels = {name: str(field.label) for name, field in smtp.fields.items()}
    assert labels["nickname"] == "Nickname"
    assert labels["host"] == "Host" and labels["port"] == "Port" and labels["scheme"] == "Scheme"
    assert labels["username"] == "Username" and labels["secret"] == "Password"
    assert labels["from_name"] == "Default From Name"
    assert labels["from_address"] == "From Address"
    assert labels["reply_to_address"] == "Reply Address"
    assert labels["preference_center"] == "Email Preference Center"
    assert [c for c, _ in smtp.fields["scheme"].choices] == ["smtp", "smtps", "starttls"]
    assert str(SendGridProviderForm().fields["secret"].label) == "API Key"
    assert str(GmailProviderForm().fields["secret"].label) == "App password"
    netcore = form_for("netcore")().fields
    assert "unsubscribe_page_url" not in netcore  # one choice: the preference center's
    assert str(netcore["preference_center"].label) == "Unsubscribe Page"
    for form in (smtp, GmailProviderForm(), SendGridProviderForm()):
        for name, field in form.fields.items():
            if not field.widget.is_hidden:
                assert field.help_text, name


@pytest.mark.django_db
def test_secret_is_required_on_create_and_optional_on_edit():
    data = {"nickname": "G", "username": "me@gmail.com", "preference_center": "none"}
    assert "secret" in GmailProviderForm(data).errors
    provider = EmailProviderFactory(gmail=True, username="me@gmail.com", secret="abcdefghijklmnop")
    form = GmailProviderForm(data, instance=provider)
    assert form.is_valid(), form.errors
    assert not form.fields["secret"].required
    assert form.save().secret == "abcdefghijklmnop"


@pytest.mark.django_db
def test_short_secrets_show_no_hint():
    provider = EmailProviderFactory(secret="short-pw")
    assert provider.secret_last4 == ""
    assert "short-pw"[-4:] not in SmtpProviderForm(instance=provider).secret_hint()
