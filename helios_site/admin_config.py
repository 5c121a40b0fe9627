"""Django's admin with HELIOS's site as the default one, so `admin.site` is a HeliosAdminSite."""

from django.contrib.admin.apps import AdminConfig


class HeliosAdminConfig(AdminConfig):
    default_site = "helios_site.admin_site.HeliosAdminSite"
