"""Azure Event Grid: a topic endpoint in either input schema; webhook subscriptions push back."""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.db import models

from ...clients.base import Payload
from ...endpoints import Endpoint
from ..spec import KindSpec, Receiver, ReceiverAuth
from .client import SCHEMA_CLOUDEVENTS, SCHEMA_EVENTGRID, EventGridClient, EventGridFormat
from .credentials import resolve_azure
from .parser import parse_eventgrid
from .puller import EventGridPuller

#: Event Grid's own hosts (topics and namespaces; public, US government and China clouds).
EVENTGRID_HOST_SUFFIXES = (".eventgrid.azure.net", ".eventgrid.azure.us", ".eventgrid.chinacloudapi.cn")


class EventGridSchema(models.TextChoices):
    CLOUDEVENTS = SCHEMA_CLOUDEVENTS, "CloudEvents 1.0"
    EVENTGRID = SCHEMA_EVENTGRID, "Event Grid schema"


class EventGridOptions(models.Model):
    """The options of an Event Grid config."""

    azure_endpoint = models.URLField(
        "topic endpoint",
        max_length=500,
        blank=True,
        help_text="e.g. https://my-topic.westeurope-1.eventgrid.azure.net/api/events",
    )
    azure_input_schema = models.CharField(
        "input schema",
        max_length=16,
        choices=EventGridSchema.choices,
        default=EventGridSchema.CLOUDEVENTS,
        blank=True,
    )

    class Meta:
        abstract = True


class EventGridPullOptions(models.Model):
    """Where an Event Grid namespace subscription (queue mode) is read: the receiver's options."""

    pull_namespace_endpoint = models.URLField(
        "pull: Event Grid namespace endpoint",
        blank=True,
        help_text="Event Grid only: https://{namespace}.{region}-1.eventgrid.azure.net",
    )
    pull_namespace_topic = models.CharField("pull: Event Grid namespace topic", max_length=200, blank=True)

    class Meta:
        abstract = True


def simulate_push(payload: Payload) -> tuple[bytes, str, dict[str, str]]:
    """A webhook subscription's POST: a CloudEvent on its own (structured mode), or an Event Grid
    schema event in an array."""
    headers = {"aeg-event-type": "Notification", "aeg-subscription-name": "HELIOS-DEMO"}
    if "specversion" in payload.body:
        return json.dumps(payload.body).encode(), "application/cloudevents+json", headers
    return json.dumps([payload.body]).encode(), "application/json", headers


def validate(values: Mapping[str, Any]) -> dict[str, str]:
    """A topic endpoint URL (where it may point: providers.endpoints) and one of the two input schemas."""
    errors: dict[str, str] = {}
    url = urlsplit(values["azure_endpoint"] or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        errors["azure_endpoint"] = "Enter the topic endpoint URL."
    if values["azure_input_schema"] not in EventGridSchema.values:
        errors["azure_input_schema"] = "Choose the topic's input schema."
    return errors


EVENT_GRID = KindSpec(
    name="azure_eventgrid",
    label="Azure Event Grid",
    cli_alias="azure",
    options_model=EventGridOptions,
    option_keys={"azure_endpoint": "endpoint", "azure_input_schema": "input_schema"},
    target_fields=("azure_endpoint",),
    validate=validate,
    payload_format=EventGridFormat,
    client=EventGridClient,
    resolve_credentials=lambda prefix, options: resolve_azure(prefix),
    describe_target=lambda o: f"{o['endpoint']} ({o['input_schema']})",
    messaging_system="eventgrid",
    endpoints=(Endpoint("azure_endpoint", cloud_suffixes=EVENTGRID_HOST_SUFFIXES),),
    receiver=Receiver(
        path="eventgrid",
        parse=parse_eventgrid,
        simulate=simulate_push,
        # A webhook subscription's secret delivery property is a header: prefer it to ?token=.
        auths=(ReceiverAuth.API_KEY, ReceiverAuth.TOKEN),
        options_handshake=True,
        # Webhook deliveries are not retried on 400, 413, 401 or 403: poison gets the default 400.
        puller=EventGridPuller,
        pull_via="Event Grid namespace subscription (queue mode)",
        pull_fields=("pull_namespace_endpoint", "pull_namespace_topic", "pull_subscription"),
        pull_options_model=EventGridPullOptions,
        pull_option_keys={"pull_namespace_endpoint": "namespace_endpoint", "pull_namespace_topic": "namespace_topic"},
        pull_endpoints=(Endpoint("pull_namespace_endpoint", cloud_suffixes=EVENTGRID_HOST_SUFFIXES),),
    ),
    demo_config={
        "name": "azure-demo",
        "description": "Demo Event Grid topic",
        "azure_endpoint": "https://helios-demo.westeurope-1.eventgrid.azure.net/api/events",
        "azure_input_schema": EventGridSchema.CLOUDEVENTS,
    },
)
