from django.urls import path

from . import export_views, import_views, preference_views, views

app_name = "profiles"

urlpatterns = [
    path("", views.profile_list, name="list"),
    path("export/", export_views.profile_export, name="export"),
    path("export/<int:pk>/", export_views.export_status, name="export_status"),
    path("export/<int:pk>/progress/", export_views.export_progress, name="export_progress"),
    path("export/<int:pk>/download/", export_views.export_download, name="export_download"),
    path("import/", import_views.profile_import, name="import"),
    path("import/<int:pk>/", import_views.import_status, name="import_status"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("<int:pk>/", views.profile_detail, name="detail"),
    path("<int:pk>/reactivate/", views.profile_reactivate, name="reactivate"),
    # Public: reached from signed links in emails (List-Unsubscribe, the footer link).
    path("preferences/<str:token>/", preference_views.preferences, name="preferences"),
    path(
        "unsubscribe/<str:token>/",
        preference_views.one_click_unsubscribe,
        name="one_click_unsubscribe",
    ),
]
