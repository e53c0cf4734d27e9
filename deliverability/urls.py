from django.urls import path

from . import views

app_name = "deliverability"

urlpatterns = [
    path("", views.thresholds, name="thresholds"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("providers/<int:pk>/check-domain/", views.check_domain, name="check_domain"),
]
