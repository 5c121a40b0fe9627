"""A CloudEvents webhook config's options: where to POST, in which content mode, how large a request."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ...endpoints import Endpoint
from .payload import BATCHED, BINARY, DEFAULT_MAX_REQUEST_BYTES, STRUCTURED

#: The webhook URL may point at any public host over https (or where the deployment allows).
URL_ENDPOINT = Endpoint("webhook_url", public_hosts=True)


class ContentMode(models.TextChoices):
    STRUCTURED_MODE = STRUCTURED, "Structured: one CloudEvent per request (application/cloudevents+json)"
    BINARY_MODE = BINARY, "Binary: ce-* headers, the data as the body"
    BATCHED_MODE = BATCHED, "Batched: up to 100 per request (application/cloudevents-batch+json)"


class CloudEventsHttpOptions(models.Model):
    """The options of a CloudEvents webhook config."""

    webhook_url = models.URLField(
        "endpoint URL",
        max_length=500,
        blank=True,
        help_text="Where events are POSTed, e.g. https://broker.example.com/default/orders (https; a private "
        "address only where the deployment allows it).",
    )
    webhook_content_mode = models.CharField(
        "content mode",
        max_length=16,
        choices=ContentMode.choices,
        default=ContentMode.STRUCTURED_MODE,
        blank=True,
        help_text="Batched only if the endpoint says it takes batches.",
    )
    webhook_max_request_bytes = models.PositiveIntegerField(
        "request size",
        default=DEFAULT_MAX_REQUEST_BYTES,
        validators=[MinValueValidator(1024), MaxValueValidator(64 * 1024 * 1024)],
        help_text="The largest request the endpoint takes, in bytes; larger events fail before sending.",
    )

    class Meta:
        abstract = True


def validate(values: Mapping[str, Any]) -> dict[str, str]:
    """An http(s) URL (where it may point: providers.endpoints) and a known content mode."""
    errors: dict[str, str] = {}
    url = urlsplit(values["webhook_url"] or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        errors["webhook_url"] = "Enter the endpoint URL."
    if values["webhook_content_mode"] not in ContentMode.values:
        errors["webhook_content_mode"] = "Choose a content mode."
    return errors
