"""Raising deliverability alerts and emailing them to staff."""

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from providers.adapters import DeliveryError, OutgoingMessage, adapter_for
from providers.models import EmailProvider

from .models import Alert, Level, Metric
from .rates import ProviderRates, Reading, provider_rates

LEVEL_ORDER = [Level.WARNING, Level.CRITICAL]


def worst_reading(rates: ProviderRates, metric: str) -> Reading | None:
    """The reading of `metric` with the highest alerting level (either window), or None."""
    alerting = [r for r in rates.readings if r.metric == metric and r.alert_level]
    if not alerting:
        return None
    return max(alerting, key=lambda r: (LEVEL_ORDER.index(r.alert_level), r.rate))


def record_alert(provider_id: int, reading: Reading, day: date) -> Alert | None:
    """Store the alert unless this threshold already raised one today; the new alert or None."""
    try:
        with transaction.atomic():
            return Alert.objects.create(
                provider_id=provider_id,
                metric=reading.metric,
                level=reading.alert_level,
                window=reading.window,
                day=day,
                rate=reading.rate,
                threshold=reading.critical
                if reading.alert_level == Level.CRITICAL
                else reading.warning,
                delivered=reading.delivered,
            )
    except IntegrityError:  # one per provider, threshold and day (the database says so)
        return None


def raise_alerts(today: date | None = None) -> list[Alert]:
    """Compare every provider's rates with the thresholds; the alerts new today."""
    today = today or timezone.localdate()
    raised = []
    for provider_id, rates in provider_rates(today=today).items():
        for metric in Metric:
            reading = worst_reading(rates, metric)
            if reading is None:
                continue
            alert = record_alert(provider_id, reading, today)
            if alert is not None:
                raised.append(alert)
    return raised


def staff_addresses() -> list[str]:
    users = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def alert_message(alert: Alert, recipient: str) -> OutgoingMessage:
    context = {"alert": alert, "site_url": settings.SITE_URL}
    return OutgoingMessage(
        to=recipient,
        subject=render_to_string("deliverability/alert_email_subject.txt", context).strip(),
        text=render_to_string("deliverability/alert_email.txt", context),
    )


def email_alert(alert: Alert) -> str:
    """Email one alert to every staff address through the default provider, once.

    Returns what happened, for the task's result and the logs.
    """
    if alert.emailed_at is not None:
        return "already sent"
    default = EmailProvider.objects.default()
    recipients = staff_addresses()
    if default is None or not recipients:
        alert.email_error = "no default provider" if default is None else "no staff address"
        alert.save(update_fields=["email_error"])
        return alert.email_error
    adapter = adapter_for(default)
    errors = []
    for recipient in recipients:
        try:
            adapter.send(alert_message(alert, recipient))
        except DeliveryError as exc:
            errors.append(f"{recipient}: {exc.reason}")
    alert.emailed_at = timezone.now()
    alert.email_error = "; ".join(errors)[:300]
    alert.save(update_fields=["emailed_at", "email_error"])
    return "sent" if not errors else "sent with errors"
