"""The sign-in forms of the dashboard and of Django admin."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with the username's length checked before anyone authenticates.

    Django only sets the widget's maxlength; a longer username reached the rate limiter, which
    stores it in a shorter column (django-axes, 255 characters) and failed with a 500.
    """

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


class AdminSignInForm(SignInForm, AdminAuthenticationForm):
    """Django admin's sign-in form (staff only), with the same username check."""
