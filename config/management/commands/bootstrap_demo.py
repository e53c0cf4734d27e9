"""Create a demo admin (fresh random password each run) and a little demo data."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from profiles.models import Profile
from providers.models import EmailProvider

DEMO_PROFILES = [
    ("ada@example.org", "Ada Lovelace"),
    ("grace@example.org", "Grace Hopper"),
    ("alan@example.org", "Alan Turing"),
    ("katherine@example.org", "Katherine Johnson"),
]


class Command(BaseCommand):
    help = "Create the demo admin login and demo data for the embedded default."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default=settings.SITE_URL + "/")

    def handle(self, *args, username, url, **options):
        if not settings.DEBUG:
            raise CommandError("bootstrap_demo is for the embedded default only (DEBUG is off).")
        password = self.reset_admin(username)
        self.seed_provider()
        Profile.objects.bulk_create(
            [Profile(email=email, name=name) for email, name in DEMO_PROFILES],
            ignore_conflicts=True,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Postdesk is starting at {url}\n"
                f"  Sign in as {username} with password {password}\n"
                f"  (a new password is made each time; test emails land in the local SMTP sink,\n"
                f"   127.0.0.1:{settings.DEMO_SMTP_PORT}, and are saved under var/sink/)\n"
            )
        )

    def reset_admin(self, username: str) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def seed_provider(self) -> None:
        if EmailProvider.objects.exists():
            return
        provider = EmailProvider.objects.create(
            nickname="Local SMTP sink",
            kind=EmailProvider.Kind.SMTP,
            host="127.0.0.1",
            port=settings.DEMO_SMTP_PORT,
            scheme=EmailProvider.Scheme.SMTP,
            from_name="Postdesk demo",
            from_address="demo@postdesk.example",
            # So the demo's test emails carry the preference-center and unsubscribe links.
            preference_center=EmailProvider.PreferenceCenter.SYSTEM,
        )
        EmailProvider.objects.mark_default(provider)
