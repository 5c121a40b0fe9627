"""AWS EventBridge: PutEvents to a bus; API destinations push events back."""

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ...clients.base import Payload
from ...endpoints import Endpoint
from ..spec import KindSpec, Receiver, ReceiverAuth
from .client import DEFAULT_MAX_ENTRY_BYTES, EventBridgeClient, EventBridgeFormat
from .credentials import resolve_aws
from .parser import parse_eventbridge
from .puller import SqsPuller

AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
#: AWS's own endpoints (regional, FIPS, dual-stack, VPC interface endpoints, China).
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
EVENT_BUS_RE = re.compile(r"^([/\.\-_A-Za-z0-9]{1,256}|arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/.+)$")


class EventBridgeOptions(models.Model):
    """The options of an EventBridge config."""

    aws_region = models.CharField("AWS region", max_length=32, blank=True)
    aws_event_bus = models.CharField("event bus", max_length=1600, blank=True, default="default")
    aws_source = models.CharField("source", max_length=256, blank=True, help_text="EventBridge Source of every entry.")
    aws_max_entry_bytes = models.PositiveIntegerField(
        "entry size limit (bytes)",
        default=DEFAULT_MAX_ENTRY_BYTES,
        validators=[MinValueValidator(1024), MaxValueValidator(1024 * 1024)],
        help_text="256 KB by default; AWS raised the limit to 1 MB in 2026.",
    )
    aws_endpoint_url = models.URLField(
        "endpoint URL override",
        blank=True,
        help_text="Empty = AWS's regional endpoint. Otherwise an https endpoint of AWS (e.g. a VPC endpoint), "
        "or a stand-in the deployment allows in HELIOS_ALLOWED_ENDPOINTS (LocalStack, moto).",
    )

    class Meta:
        abstract = True


def simulate_push(payload: Payload) -> tuple[bytes, str, dict[str, str]]:
    """An API destination's POST for a PutEvents entry: the EventBridge event around its Detail."""
    entry = payload.body
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "000000000000",
        "time": entry["Time"].isoformat(),
        "region": "demo",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    return json.dumps(event).encode(), "application/json", {}


def validate(values: Mapping[str, Any]) -> dict[str, str]:
    """Region, bus and a Source that is not AWS's own."""
    errors: dict[str, str] = {}
    if not AWS_REGION_RE.match(values["aws_region"] or ""):
        errors["aws_region"] = "Enter an AWS region such as eu-west-1."
    if not EVENT_BUS_RE.match(values["aws_event_bus"] or ""):
        errors["aws_event_bus"] = "Enter an event bus name (e.g. default) or its ARN."
    source = values["aws_source"] or ""
    if not source:
        errors["aws_source"] = "Enter the Source EventBridge rules will match, e.g. com.example.orders."
    elif source.startswith("aws."):
        errors["aws_source"] = "Sources starting with 'aws.' are reserved for AWS services."
    return errors


EVENTBRIDGE = KindSpec(
    name="aws_eventbridge",
    label="AWS EventBridge",
    cli_alias="aws",
    options_model=EventBridgeOptions,
    option_keys={
        "aws_region": "region",
        "aws_event_bus": "event_bus",
        "aws_source": "source",
        "aws_max_entry_bytes": "max_entry_bytes",
        "aws_endpoint_url": "endpoint_url",
    },
    target_fields=("aws_region", "aws_event_bus", "aws_endpoint_url"),
    validate=validate,
    payload_format=EventBridgeFormat,
    client=EventBridgeClient,
    resolve_credentials=lambda prefix, options: resolve_aws(prefix),
    describe_target=lambda o: f"{o['region']} · bus {o['event_bus']} · source {o['source']}",
    messaging_system="aws_eventbridge",
    endpoints=(Endpoint("aws_endpoint_url", cloud_suffixes=AWS_HOST_SUFFIXES),),
    receiver=Receiver(
        path="eventbridge",
        parse=lambda body, content_type, headers: parse_eventbridge(body),
        simulate=simulate_push,
        auths=(ReceiverAuth.API_KEY, ReceiverAuth.BASIC, ReceiverAuth.TOKEN),
        # API destinations retry 401, 407, 409, 429 and 5xx only: poison gets the default 400.
        puller=SqsPuller,
        pull_via="EventBridge rule → SQS queue",
    ),
    demo_config={
        "name": "aws-demo",
        "description": "Demo EventBridge bus",
        "aws_region": "eu-west-1",
        "aws_event_bus": "default",
        "aws_source": "com.helios.demo",
    },
)
