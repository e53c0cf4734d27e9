from django.urls import path

from . import test_emails, views

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
    path("<int:pk>/test-email/", test_emails.send_test_email, name="send_test"),
    path("test-emails/<int:pk>/", test_emails.test_email_detail, name="test_email"),
    path("test-emails/<int:pk>/status/", test_emails.test_email_status, name="test_email_status"),
    path("test-connection/", test_emails.test_connection, name="test_connection"),
]
