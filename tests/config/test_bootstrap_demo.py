import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from profiles.models import Profile
from providers.models import EmailProvider


@pytest.mark.django_db
def test_bootstrap_demo_prints_a_working_login_and_seeds_data(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("bootstrap_demo", url="http://127.0.0.1:8000/", stdout=out)
    match = re.search(r"Sign in as (\S+) with password (\S+)", out.getvalue())
    assert match, out.getvalue()
    assert authenticate(username=match[1], password=match[2]).is_superuser
    assert "http://127.0.0.1:8000/" in out.getvalue()
    provider = EmailProvider.objects.get()
    assert provider.is_default and provider.host == "127.0.0.1"
    assert Profile.objects.count() == 4


@pytest.mark.django_db
def test_bootstrap_demo_makes_a_new_password_each_run(settings):
    settings.DEBUG = True
    passwords = set()
    for _ in range(2):
        out = StringIO()
        call_command("bootstrap_demo", stdout=out)
        passwords.add(re.search(r"with password (\S+)", out.getvalue())[1])
    assert len(passwords) == 2
    assert EmailProvider.objects.count() == 1


@pytest.mark.django_db
def test_bootstrap_demo_refuses_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("bootstrap_demo", stdout=StringIO())
