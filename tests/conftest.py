import pytest
from django.test import Client

from providers.models import TestEmail
from tests import factories

# The model's name starts with "Test"; tell pytest it is not a test class.
TestEmail.__test__ = False


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def staff_user(db):
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def client_logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_logged_in(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client
