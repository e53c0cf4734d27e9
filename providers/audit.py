"""The audit trail of provider changes, kept in Django's admin log (LogEntry).

Every dashboard change goes through `record()`, so admins see who did what and when in
Django admin (Email providers > History, and the "Provider audit entries" list). Messages
name the fields that changed, never their values: secrets must not leak into the log.
"""

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist

from .models import EmailProvider, ProviderAuditEntry

CREATED = "created"
EDITED = "edited"
DELETED = "deleted"
MARKED_DEFAULT = "marked_default"
ROTATED_CALLBACK = "rotated_callback"
TESTED_CONNECTION = "tested_connection"

_FLAGS = {
    CREATED: ADDITION,
    EDITED: CHANGE,
    DELETED: DELETION,
    MARKED_DEFAULT: CHANGE,
    ROTATED_CALLBACK: CHANGE,
    TESTED_CONNECTION: CHANGE,
}

_MESSAGES = {
    MARKED_DEFAULT: "Marked as the default provider.",
    ROTATED_CALLBACK: "Rotated the callback URL; the previous URL no longer accepts events.",
}


def _field_labels(provider: EmailProvider, fields: list[str]) -> list[str]:
    labels = []
    for name in fields:
        try:
            labels.append(str(provider._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:  # a form-only field such as "secret"
            labels.append(name.replace("_", " "))
    return labels


def change_message(action: str, provider: EmailProvider, fields: list[str] | None = None):
    """The LogEntry change message: admin's JSON format for add/change, text otherwise."""
    if action == CREATED:
        return [{"added": {}}]
    if action == EDITED:
        return [{"changed": {"fields": _field_labels(provider, fields or [])}}] if fields else []
    if action == DELETED:
        return [{"deleted": {"name": str(provider._meta.verbose_name), "object": str(provider)}}]
    return _MESSAGES[action]


def record(
    user: AbstractBaseUser,
    provider: EmailProvider,
    action: str,
    fields: list[str] | None = None,
) -> LogEntry:
    """Log `action` on `provider` by `user`. Call DELETED before the row is deleted.

    `fields` (for EDITED) are field names; only their labels are written.
    """
    entries = LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[provider],
        action_flag=_FLAGS[action],
        change_message=change_message(action, provider, fields),
        single_object=True,
    )
    return entries


def record_connection_test(
    user: AbstractBaseUser,
    provider: EmailProvider,
    destination: str,
    failed_step: str,
    secret_typed: bool,
) -> LogEntry:
    """Log a "Test connection" run: who, where it went, with which secret, how it ended.

    `destination` is host:port or the API base; the secret itself is never written.
    """
    outcome = f"failed at “{failed_step}”" if failed_step else "succeeded"
    if secret_typed:
        secret = "with a newly typed secret"
    elif provider.has_secret:
        secret = "with the stored secret"
    else:
        secret = "without a password" if provider.is_smtp else "without an API key"
    return LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[provider],
        action_flag=_FLAGS[TESTED_CONNECTION],
        change_message=f"Tested the connection to {destination} {secret}: {outcome}.",
        single_object=True,
    )


def history(provider: EmailProvider, limit: int = 20):
    """The newest audit entries of one provider, with their users, in one query (the content
    type is joined, not looked up first: a fresh process has none cached)."""
    model = EmailProvider._meta
    return (
        ProviderAuditEntry.objects.filter(
            content_type__app_label=model.app_label,
            content_type__model=model.model_name,
            object_id=str(provider.pk),
        )
        .select_related("user")
        .order_by("-action_time", "-pk")[:limit]
    )
