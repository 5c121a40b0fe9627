"""URL configuration: the console is the Django admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "HELIOS operations console"
admin.site.site_title = "HELIOS"
admin.site.index_title = "Publish events to AWS, GCP and Azure"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]
