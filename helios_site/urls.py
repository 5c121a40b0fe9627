"""URL configuration: the console is the Django admin (HELIOS's site, helios_site.admin_site)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from events.receivers import receive
from gateway.api import api
from providers.kinds import SPECS

from .health import healthz, readyz
from .metrics import metrics

handler403 = "helios_site.errors.permission_denied"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path(settings.HELIOS_ADMIN_URL, admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", api.urls),
    # One receiver path per cloud: /receive/eventgrid/<id>/, /receive/pubsub/<id>/, …
    *(
        path(f"receive/{s.receiver.path}/<int:config_id>/", receive, {"kind": s.name}, name=s.receiver.url_name)
        for s in SPECS
        if s.receiver is not None
    ),
]
