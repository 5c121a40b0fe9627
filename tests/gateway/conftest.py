"""API keys for the gateway's tests."""

from collections.abc import Callable

import pytest

from gateway.keys import NewKey, create_key
from providers.models import ProviderConfig


@pytest.fixture
def make_key(db: None) -> Callable[..., NewKey]:
    def make(name: str = "order-service", providers: list[ProviderConfig] | None = None, **options: object) -> NewKey:
        return create_key(name=name, providers=providers or [], **options)

    return make


@pytest.fixture
def api_post(client):
    """POST to /api/v1/events with a key (and any headers), the body as bytes or JSON."""
    import json

    def post(secret: str | None, body, content_type: str = "application/json", **headers: str):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        return client.generic("POST", "/api/v1/events", data, content_type=content_type, headers=headers)

    return post
