"""Celery tasks of the deliverability guard (run by beat: see config/celery_app.py)."""

from celery import shared_task

from providers.models import EmailProvider

from . import alerts, domain_checks
from .models import Alert


@shared_task
def check_thresholds() -> int:
    """Compare every provider's rates with the thresholds and email each new alert to staff;
    the number of new alerts."""
    raised = alerts.raise_alerts()
    for alert in raised:
        email_alert.delay_on_commit(alert.pk)
    return len(raised)


@shared_task(acks_late=True)
def email_alert(alert_id: int) -> str:
    """Email one alert to staff through the default provider (once)."""
    alert = Alert.objects.select_related("provider").filter(pk=alert_id).first()
    if alert is None:
        return "gone"
    return alerts.email_alert(alert)


@shared_task
def check_sending_domains() -> int:
    """Re-check every provider's From domain (daily)."""
    providers = list(EmailProvider.objects.all())
    for provider in providers:
        domain_checks.check_provider(provider)
    return len(providers)
