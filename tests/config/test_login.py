import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory


@pytest.mark.django_db
def test_login_page_renders_a_labelled_form(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'for="id_username"' in html and 'id="id_username"' in html
    assert 'for="id_password"' in html and 'id="id_password"' in html


@pytest.mark.django_db
def test_user_signs_in_and_lands_on_providers(client):
    UserFactory(username="marketer")
    response = client.post(
        reverse("login"), {"username": "marketer", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response.url == reverse("providers:list")


@pytest.mark.django_db
def test_wrong_password_shows_an_error_not_a_crash(client):
    UserFactory(username="marketer")
    response = client.post(reverse("login"), {"username": "marketer", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


@pytest.mark.django_db
def test_logout_needs_post_and_ends_the_session(client_logged_in):
    response = client_logged_in.post(reverse("logout"))
    assert response.status_code == 302
    assert client_logged_in.get(reverse("providers:list")).status_code == 302


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True)
@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_an_overlong_username_is_a_form_error_not_a_crash(client, url_name):
    response = client.post(reverse(url_name), {"username": "u" * 300, "password": "whatever"})
    assert response.status_code == 200
    assert b"at most 150 characters" in response.content
    assert not AccessAttempt.objects.exists()
