"""URL configuration: the console is the Django admin (HELIOS's site, helios_site.admin_site)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from events.receivers import eventbridge_receiver, eventgrid_receiver, pubsub_receiver

from .health import healthz, readyz
from .metrics import metrics

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path(settings.HELIOS_ADMIN_URL, admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("receive/eventgrid/<int:config_id>/", eventgrid_receiver, name="receive_eventgrid"),
    path("receive/pubsub/<int:config_id>/", pubsub_receiver, name="receive_pubsub"),
    path("receive/eventbridge/<int:config_id>/", eventbridge_receiver, name="receive_eventbridge"),
]
