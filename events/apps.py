"""Events, deliveries and attempts: what was published, where, and what happened."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"
