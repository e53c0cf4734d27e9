from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from .forms import AdminSignInForm, SignInForm
from .health import health
from .metrics import metrics

admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="providers:list", permanent=False)),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=SignInForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", health, name="health"),
    path("metrics", metrics, name="metrics"),
    # Browsers and feed readers ask for /favicon.ico whatever the page links to.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.ico"))),
    path("admin/", admin.site.urls),
    path("settings/email/providers/", include("providers.urls")),
    path("settings/email/deliverability/", include("deliverability.urls")),
    path("callbacks/", include("callbacks.urls")),
    path("profiles/", include("profiles.urls")),
]
