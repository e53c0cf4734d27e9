"""The Gmail form."""

import pytest

from providers.forms.gmail import GmailProviderForm
from tests.factories import EmailProviderFactory


@pytest.mark.django_db
def test_another_gmail_account_needs_its_app_password_typed():
    provider = EmailProviderFactory(gmail=True, username="me@gmail.com", secret="abcdefghijklmnop")
    data = {"nickname": "G", "username": "other@gmail.com", "preference_center": "none"}

    form = GmailProviderForm(data, instance=provider)

    assert not form.is_valid()
    assert form.errors["secret"][0].startswith("Type it again")
    assert GmailProviderForm({**data, "secret": "qrstuvwxyzabcdef"}, instance=provider).is_valid()
