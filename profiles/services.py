"""What people do to profiles: an admin re-activates one; a recipient sets their preferences.

Every function here takes plain values, does its work in one transaction with the profile row
locked, and records what happened on the profile's timeline.
"""

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from .categories import Category, known_categories
from .models import Profile, TimelineEvent, normalize_email

# The `reason` property of timeline events raised by the recipient themselves, by how they
# did it: the preference center's page, or their mailbox's one-click unsubscribe (RFC 8058).
PREFERENCE_CENTER_REASON = "preference center"
RECIPIENT_REASONS = {"page": PREFERENCE_CENTER_REASON, "one-click": "one-click unsubscribe"}

# Inactive reasons that need an explicit extra confirmation before re-activation: mailing
# them again risks the sender's reputation (a mailbox that does not exist, a complaint).
RISKY_REASONS = frozenset({Profile.Reason.HARD_BOUNCE, Profile.Reason.SPAM})


class ProfileAlreadyActive(Exception):
    """Re-activation asked for an address that is already Active."""


def needs_extra_confirmation(profile: Profile) -> bool:
    return profile.inactive_reason in RISKY_REASONS


def reactivate_profile(profile_id: int, *, by, reason: str) -> Profile:
    """Make an Inactive address Active again, on the timeline and in the admin audit trail.

    `by` is the staff user doing it; `reason` is their explanation, kept on both records.
    Raises ProfileAlreadyActive when someone else re-activated it first.
    """
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile_id)
        if profile.is_active:
            raise ProfileAlreadyActive(profile.email)
        previous_reason = profile.get_inactive_reason_display() or "unknown"
        properties = {
            "reason": reason,
            "by": by.get_username(),
            "previous_reason": profile.inactive_reason,
            "previous_provider": profile.inactive_provider,
            "inactive_since": profile.inactive_since.isoformat() if profile.inactive_since else "",
        }
        _make_active(profile)
        TimelineEvent.objects.create(
            profile=profile,
            kind=TimelineEvent.Kind.CHANNEL_RESUBSCRIBED,
            occurred_at=timezone.now(),
            properties=properties,
        )
        LogEntry.objects.log_actions(
            user_id=by.pk,
            queryset=[profile],
            action_flag=CHANGE,
            change_message=f"Re-activated the email address (was Inactive: {previous_reason}). "
            f"Reason: {reason}",
            single_object=True,
        )
    return profile


def unsubscribe_from_all(email: str, *, method: str) -> Profile:
    """The recipient stops all email: the address becomes Inactive (reason unsubscribed).

    Creates the profile when the address has none yet, so that the suppression holds for a
    later import. Doing it twice records it once.
    """
    with transaction.atomic():
        profile = _locked_profile(email)
        _unsubscribe_all(profile, method=method)
    return profile


def update_preferences(
    email: str, *, unsubscribed_categories, unsubscribe_all: bool, method: str = "page"
) -> Profile:
    """Store the recipient's choices from the preference center page.

    - categories opted out of or back into raise Preferences Updated (with the categories):
      the address still gets email, so it is no Channel Unsubscribed (seed 003 raises that when
      the profile is unsubscribed from the channel);
    - "unsubscribe from all" makes the address Inactive;
    - leaving "unsubscribe from all" unticked re-activates an address that the recipient had
      unsubscribed themselves; an address made Inactive for a delivery reason (bounce,
      complaint) stays Inactive — only an admin can re-activate those.
    """
    wanted = known_categories(unsubscribed_categories)
    now = timezone.now()
    with transaction.atomic():
        profile = _locked_profile(email)
        before = set(profile.unsubscribed_categories or [])
        added = [key for key in wanted if key not in before]
        removed = [key for key in known_categories(before) if key not in wanted]
        if added or removed:
            profile.unsubscribed_categories = wanted
            profile.save(update_fields=["unsubscribed_categories", "updated_at"])
        if added or removed:
            changes = {"opted_out": _labels(added), "opted_in": _labels(removed)}
            _record(
                profile,
                TimelineEvent.Kind.PREFERENCES_UPDATED,
                now,
                reason=PREFERENCE_CENTER_REASON,
                **{key: labels for key, labels in changes.items() if labels},
            )
        if unsubscribe_all:
            _unsubscribe_all(profile, method=method)
        elif profile.inactive_reason == Profile.Reason.UNSUBSCRIBED and not profile.is_active:
            _make_active(profile)
            _record(
                profile,
                TimelineEvent.Kind.CHANNEL_RESUBSCRIBED,
                now,
                reason=PREFERENCE_CENTER_REASON,
                by="recipient",
            )
    return profile


def _locked_profile(email: str) -> Profile:
    profile, _ = Profile.objects.get_or_create(email=normalize_email(email))
    return Profile.objects.select_for_update().get(pk=profile.pk)


def _unsubscribe_all(profile: Profile, *, method: str) -> None:
    if not profile.is_active and profile.inactive_reason == Profile.Reason.UNSUBSCRIBED:
        return
    now = timezone.now()
    if profile.is_active:
        # An address already Inactive for another reason keeps that reason (and its detail):
        # it says more about the mailbox than the unsubscribe does.
        profile.status = Profile.Status.INACTIVE
        profile.inactive_reason = Profile.Reason.UNSUBSCRIBED
        profile.inactive_since = now
        profile.inactive_provider = ""
        profile.inactive_detail = f"Unsubscribed from all email ({RECIPIENT_REASONS[method]})."
        profile.save(
            update_fields=[
                "status",
                "inactive_reason",
                "inactive_since",
                "inactive_provider",
                "inactive_detail",
                "updated_at",
            ]
        )
    _record(
        profile,
        TimelineEvent.Kind.CHANNEL_UNSUBSCRIBED,
        now,
        Type="unsubscribed",
        reason=RECIPIENT_REASONS[method],
        method=method,
    )


def _make_active(profile: Profile) -> None:
    profile.status = Profile.Status.ACTIVE
    profile.inactive_reason = ""
    profile.inactive_since = None
    profile.inactive_provider = ""
    profile.inactive_detail = ""
    profile.soft_bounce_count = 0
    profile.soft_bounce_since = None
    profile.save(update_fields=[*Profile.STATUS_FIELDS, "updated_at"])


def _record(profile: Profile, kind: str, occurred_at, **properties) -> TimelineEvent:
    return TimelineEvent.objects.create(
        profile=profile, kind=kind, occurred_at=occurred_at, properties=properties
    )


def _labels(keys) -> list[str]:
    return [Category(key).label for key in keys]
