from django import template

from providers.models import EmailProvider, TestEmail

register = template.Library()

RECENT = 5


@register.simple_tag
def recent_test_emails(provider: EmailProvider, limit: int = RECENT) -> list[TestEmail]:
    """The provider's latest test emails, newest first (one query)."""
    return list(
        TestEmail.objects.filter(provider=provider)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:limit]
    )


STATUS_BADGES = {
    TestEmail.Status.QUEUED: "text-bg-secondary",
    TestEmail.Status.SENDING: "text-bg-info",
    TestEmail.Status.SENT: "text-bg-success",
    TestEmail.Status.FAILED: "text-bg-danger",
}


@register.filter
def status_badge(status: str) -> str:
    """Bootstrap badge class for a test email status."""
    return STATUS_BADGES.get(status, "text-bg-secondary")


@register.filter
def seconds(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    return f"{milliseconds / 1000:.1f} s"
