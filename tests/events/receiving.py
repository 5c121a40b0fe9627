"""What the clouds push to HELIOS's receivers: documented bodies and request helpers."""

import json
import uuid

from django.urls import reverse

from tests.conftest import RECEIVER_TOKEN

#: Event Grid's documented subscription validation event (learn.microsoft.com, "Webhook event delivery").
VALIDATION_EVENT = [
    {
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        "subject": "",
        "data": {
            "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
            "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000",
        },
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2018-01-25T22:12:19.4556811Z",
        "metadataVersion": "1",
        "dataVersion": "1",
    }
]

#: Pub/Sub's documented push request body (cloud.google.com, "Push subscriptions").
PUSH_SAMPLE = {
    "message": {
        "attributes": {"key": "value"},
        "data": "SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",
        "messageId": "2070443601311540",
        "message_id": "2070443601311540",
        "publishTime": "2021-02-26T19:13:55.749Z",
        "publish_time": "2021-02-26T19:13:55.749Z",
    },
    "subscription": "projects/myproject/subscriptions/mysubscription",
}


def eventbridge_event(event_id: str, **detail: object) -> dict:
    """An EventBridge event as an API destination delivers it (the documented event structure)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "OrderPlaced",
        "source": "com.test.orders",
        "account": "123456789012",
        "time": "2026-11-27T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"metadata": {"event_id": event_id, "source": "com.test", "subject": "orders/1"}, "data": detail},
    }


def url(name: str, config, token: str | None = RECEIVER_TOKEN) -> str:
    base = reverse(f"receive_{name}", args=[config.pk])
    return f"{base}?token={token}" if token else base


def post_json(client, target: str, body, content_type="application/json", **headers):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(target, data=data, content_type=content_type, headers=headers)
