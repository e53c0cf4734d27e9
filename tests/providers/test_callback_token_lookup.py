"""EmailProvider.objects.by_callback_token: the callback endpoint's lookup of its provider."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import EmailProvider
from tests.factories import EmailProviderFactory

pytestmark = pytest.mark.django_db


def test_the_provider_is_found_by_its_token_in_one_query():
    provider = EmailProviderFactory()
    EmailProviderFactory(nickname="Another")
    with CaptureQueriesContext(connection) as queries:
        found = EmailProvider.objects.by_callback_token(provider.callback_token)
    assert found == provider
    assert len(queries) == 1


def test_a_rotated_token_finds_nothing():
    provider = EmailProviderFactory()
    old = provider.callback_token
    provider.rotate_callback_token()
    assert EmailProvider.objects.by_callback_token(old) is None
    assert EmailProvider.objects.by_callback_token(provider.callback_token) == provider


@pytest.mark.parametrize(
    "change", [str.upper, lambda t: t[:-1], lambda t: t + " ", lambda t: t + "\x00"]
)
def test_a_token_that_is_not_exactly_the_stored_one_finds_nothing(change):
    provider = EmailProviderFactory(callback_token="abc-token-" + "x" * 40)
    assert EmailProvider.objects.by_callback_token(change(provider.callback_token)) is None
