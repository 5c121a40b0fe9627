"""The project package is an app only to host the `console` management command."""

from django.apps import AppConfig


class HeliosSiteConfig(AppConfig):
    name = "helios_site"
    verbose_name = "HELIOS"
