"""CloudEvents over HTTP: a webhook to any endpoint (a Knative broker, Dapr, a team's own service),
signed with Standard Webhooks. No round trip: HELIOS cannot see what the endpoint received.

Everything of this kind lives in this folder: options (options.py), what is sent (payload.py),
the client (client.py) and the signing secret (credentials.py).
"""

from ..spec import KindSpec
from .client import CloudEventsHttpClient
from .credentials import resolve_secret
from .options import URL_ENDPOINT, CloudEventsHttpOptions, ContentMode, validate
from .payload import CloudEventsHttpFormat

CLOUDEVENTS_HTTP = KindSpec(
    name="cloudevents_http",
    label="CloudEvents over HTTP",
    cli_alias="webhook",
    options_model=CloudEventsHttpOptions,
    option_keys={
        "webhook_url": "url",
        "webhook_content_mode": "content_mode",
        "webhook_max_request_bytes": "max_request_bytes",
    },
    target_fields=("webhook_url",),
    validate=validate,
    payload_format=CloudEventsHttpFormat,
    client=CloudEventsHttpClient,
    resolve_credentials=lambda prefix, options: resolve_secret(prefix),
    describe_target=lambda o: f"{o['url']} ({o['content_mode']})",
    messaging_system="cloudevents_http",
    endpoints=(URL_ENDPOINT,),
    receiver=None,
    demo_on_first_run=False,
    demo_config={
        "name": "webhook-demo",
        "description": "Demo CloudEvents webhook",
        "webhook_url": "https://events.example.com/cloudevents",
        "webhook_content_mode": ContentMode.STRUCTURED_MODE,
    },
)
