from django.urls import path

from . import connection_views, test_email_views, views

app_name = "providers"

urlpatterns = [
    path("", views.provider_list, name="list"),
    path("add/", views.provider_choose_kind, name="add"),
    path("add/<str:kind>/", views.provider_create, name="create"),
    path("<int:pk>/", views.provider_detail, name="detail"),
    path("<int:pk>/edit/", views.provider_edit, name="edit"),
    path("<int:pk>/delete/", views.provider_delete, name="delete"),
    path("<int:pk>/default/", views.provider_mark_default, name="mark_default"),
    path("<int:pk>/rotate-callback/", views.provider_rotate_callback, name="rotate_callback"),
    path("<int:pk>/test-email/", test_email_views.test_email_create, name="send_test"),
    path("test-emails/<int:pk>/", test_email_views.test_email_detail, name="test_email"),
    path(
        "test-emails/<int:pk>/status/", test_email_views.test_email_status, name="test_email_status"
    ),
    path("test-connection/", connection_views.test_connection, name="test_connection"),
]
