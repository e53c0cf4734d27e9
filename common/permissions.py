"""Pages only admins (staff) may use."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_required(reason: str) -> Callable:
    """Sign-in first; then a signed-in user who is not staff gets the 403 page saying `reason`
    (not Django admin's sign-in page, which reads as if they were signed out)."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def staff_only(request, *args, **kwargs):
            if not request.user.is_staff:
                raise PermissionDenied(reason)
            return view(request, *args, **kwargs)

        return staff_only

    return decorator
