"""The console's admin site: its titles and the site-wide pages (the operations home, the
dashboard) that belong to no single model. Installed as Django's default site (HeliosAdminConfig),
so `admin.site` is this."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from core.permissions import require
from events.dashboard import dashboard_context

from .operations import operations_context


class HeliosAdminSite(admin.AdminSite):
    site_header = "HELIOS operations console"
    site_title = "HELIOS"
    index_title = "Publish events to AWS, GCP and Azure"
    # The operations pages need the width (at 1366 px Django's nav sidebar takes a fifth of it);
    # the home page lists every section.
    enable_nav_sidebar = False

    def get_urls(self) -> list[URLPattern | URLResolver]:
        dashboard = path("dashboard/", self.admin_view(self.dashboard_view), name="events_dashboard")
        operations = path("operations/", self.admin_view(self.operations_view), name="operations")
        return [dashboard, operations, *super().get_urls()]

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        """The operations home above the app list (for those who may read deliveries)."""
        context = dict(extra_context or {})
        if request.user.has_perm("events.view_delivery"):
            context |= operations_context()
        return super().index(request, context)

    def operations_view(self, request: HttpRequest) -> TemplateResponse:
        """The operations section alone: the home page refreshes it in place."""
        require(request.user, "events.view_delivery", to="see the operations overview")
        context = {**self.each_context(request), **operations_context()}
        return TemplateResponse(request, "admin/operations.html", context)

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """Per-provider health over the last 24 hours and an hourly volume chart."""
        require(request.user, "events.view_delivery", to="see the dashboard")
        context = {**self.each_context(request), "title": "Dashboard: the last 24 hours", **dashboard_context()}
        return TemplateResponse(request, "admin/events/dashboard.html", context)
