"""The demo SMTP sink receives a test email sent the way the embedded default sends it."""

import pytest

from config.management.commands.smtp_sink import start_sink
from providers.models import TestEmail
from providers.sending import DeliveryOutcome, deliver_test_email
from tests.factories import EmailProviderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture
def sink(tmp_path):
    lines = []
    controller = start_sink("127.0.0.1", 0, tmp_path / "sink", report=lines.append)
    yield controller, tmp_path / "sink", lines
    controller.stop()


@pytest.mark.parametrize("username", ["", "anyone"])
def test_demo_test_email_arrives_in_the_sink(sink, username):
    controller, directory, lines = sink
    provider = EmailProviderFactory(
        nickname="Local SMTP sink",
        host="127.0.0.1",
        port=controller.port,
        scheme="smtp",
        username=username,
        secret="whatever",
        from_name="Postdesk demo",
        from_address="demo@postdesk.example",
    )
    test_email = TestEmail.objects.create(provider=provider, recipient="newcomer@example.org")

    assert deliver_test_email(test_email) is DeliveryOutcome.SENT

    [saved] = list(directory.glob("*.eml"))
    content = saved.read_text()
    assert "To: newcomer@example.org" in content
    assert "X-Postdesk-Meta: newcomer@example.org|" in content
    [line] = lines
    assert "Postdesk demo <demo@postdesk.example>" in line
    assert "Postdesk test email from Local SMTP sink" in line
