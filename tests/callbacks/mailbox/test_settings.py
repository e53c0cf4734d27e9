from django.test import override_settings

from callbacks.mailbox import client


def test_the_imap_timeout_is_a_setting_of_its_own(settings):
    assert settings.BOUNCE_MAILBOX_TIMEOUT_SECONDS == 30  # defined in config/settings/base.py
    with override_settings(BOUNCE_MAILBOX_TIMEOUT_SECONDS=7):
        assert client._timeout() == 7.0
