from django.utils.functional import SimpleLazyObject

from .models import Alert

BANNER_LIMIT = 5


def open_alerts(request) -> dict:
    """The alerts not yet acknowledged, for the banner: read only when a page shows them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "open_alerts": SimpleLazyObject(
            lambda: list(Alert.objects.unacknowledged().select_related("provider")[:BANNER_LIMIT])
        )
    }
