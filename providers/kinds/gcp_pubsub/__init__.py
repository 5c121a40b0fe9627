"""GCP Pub/Sub: publish to a topic; push subscriptions send events back."""

import base64
import json
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import models

from ...clients.base import Payload
from ...endpoints import Endpoint
from ..spec import KindSpec, Receiver, ReceiverAuth
from .client import PubSubClient, PubSubFormat
from .credentials import resolve_gcp
from .parser import parse_pubsub_push
from .puller import PubSubPuller

GCP_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
GCP_TOPIC_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
HOST_PORT_RE = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")


class PubSubOptions(models.Model):
    """The options of a Pub/Sub config."""

    gcp_project = models.CharField("GCP project", max_length=30, blank=True)
    gcp_topic = models.CharField("topic", max_length=255, blank=True)
    gcp_emulator_host = models.CharField(
        "emulator host override",
        max_length=255,
        blank=True,
        help_text="host:port of a Pub/Sub emulator the deployment allows in HELIOS_ALLOWED_ENDPOINTS "
        "(plain gRPC, never sent credentials); empty = Google's endpoint.",
    )
    gcp_ordering_by_subject = models.BooleanField(
        "order by subject",
        default=False,
        help_text="Publish with the event subject as ordering key (the subscription must enable ordering).",
    )

    class Meta:
        abstract = True


def simulate_push(payload: Payload) -> tuple[bytes, str, dict[str, str]]:
    """A push subscription's POST: the message (data base64, attributes, ids) in its envelope."""
    message = {
        "data": base64.b64encode(payload.body["data"]).decode(),
        "attributes": payload.body["attributes"],
        "messageId": str(random.randrange(10**15, 10**17)),
        "publishTime": datetime.now(UTC).isoformat(),
    }
    body = {"message": message, "subscription": "projects/helios-demo/subscriptions/helios-roundtrip"}
    return json.dumps(body).encode(), "application/json", {}


def validate(values: Mapping[str, Any]) -> dict[str, str]:
    """Project and topic ids as Google allows them; an emulator as host:port."""
    errors: dict[str, str] = {}
    if not GCP_PROJECT_RE.match(values["gcp_project"] or ""):
        errors["gcp_project"] = (
            "Enter a GCP project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter."
        )
    topic = values["gcp_topic"] or ""
    if not GCP_TOPIC_RE.match(topic) or topic.startswith("goog"):
        errors["gcp_topic"] = "Enter a topic id: 3 to 255 characters, starting with a letter, not starting with 'goog'."
    emulator = values["gcp_emulator_host"] or ""
    if emulator and not HOST_PORT_RE.match(emulator):
        errors["gcp_emulator_host"] = "Enter the emulator as host:port, e.g. 127.0.0.1:8085."
    return errors


PUBSUB = KindSpec(
    name="gcp_pubsub",
    label="GCP Pub/Sub",
    cli_alias="gcp",
    options_model=PubSubOptions,
    option_keys={
        "gcp_project": "project",
        "gcp_topic": "topic",
        "gcp_ordering_by_subject": "ordering_by_subject",
        "gcp_emulator_host": "emulator_host",
    },
    target_fields=("gcp_project", "gcp_topic", "gcp_emulator_host"),
    validate=validate,
    payload_format=PubSubFormat,
    client=PubSubClient,
    resolve_credentials=lambda prefix, options: resolve_gcp(prefix, options["emulator_host"]),
    describe_target=lambda o: f"projects/{o['project']}/topics/{o['topic']}",
    messaging_system="gcp_pubsub",
    # An emulator speaks plain gRPC and never gets credentials; still only where the deployment allows.
    endpoints=(Endpoint("gcp_emulator_host", host_only=True),),
    receiver=Receiver(
        path="pubsub",
        parse=lambda body, content_type, headers: parse_pubsub_push(body),
        simulate=simulate_push,
        auths=(ReceiverAuth.TOKEN, ReceiverAuth.OIDC),
        ok_status=204,
        # Push redelivers on anything but 102, 200, 201, 202 and 204, a 400 included, until the
        # message expires: poison is acknowledged (and kept as an unexpected arrival).
        poison_status=204,
        puller=PubSubPuller,
        pull_via="Pub/Sub pull subscription",
    ),
    demo_config={
        "name": "gcp-demo",
        "description": "Demo Pub/Sub topic",
        "gcp_project": "helios-demo",
        "gcp_topic": "helios-events",
    },
)
