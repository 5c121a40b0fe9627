"""Wrong keys are throttled per address and per key prefix (and counted in /metrics); an
Idempotency-Key that cannot be stored is a 400 in words, not a 503 to retry for ever."""

import json

import pytest

pytestmark = pytest.mark.django_db
ORDER = {"type": "OrderPlaced", "source": "com.example.orders", "data": {}, "providers": ["aws-demo"]}


@pytest.fixture
def key(make_key, demo_providers, settings):
    settings.HELIOS_API_AUTH_FAILURE_LIMIT = 5
    settings.HELIOS_API_AUTH_BLOCK_SECONDS = 60
    return make_key(providers=[c for c in demo_providers if c.name == "aws-demo"])


def wrong_key(n: int) -> str:
    return f"hk_{n:08x}_not-the-secret"


def test_wrong_keys_from_one_address_are_answered_429_with_retry_after_and_a_valid_key_still_works(api_post, key):
    statuses = [api_post(wrong_key(n), ORDER).status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    refused = api_post(wrong_key(99), ORDER)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many wrong API keys" in refused.json()["errors"][0]
    assert api_post(key.secret, ORDER).status_code == 202  # the address's own service is not locked out


def test_wrong_keys_for_one_prefix_are_throttled_whatever_the_address(client, key):
    def post(address: str):
        return client.post(
            "/api/v1/events",
            json.dumps(ORDER),
            content_type="application/json",
            headers={"Authorization": f"Bearer hk_{key.key.prefix}_guess"},
            REMOTE_ADDR=address,
        )

    statuses = [post(f"10.0.0.{n}").status_code for n in range(1, 8)]
    assert statuses == [401] * 5 + [429] * 2


def test_wrong_keys_are_counted_in_metrics(api_post, client, key):
    for n in range(3):
        api_post(wrong_key(n), ORDER)
    text = client.get("/metrics").content.decode()
    assert 'helios_api_auth_failures_total{by="address"} 3.0' in text
    assert 'helios_api_auth_blocked{by="address"} 0.0' in text


@pytest.mark.parametrize("idempotency_key", ["order\x00-1", "order\n1", "bad\ud800"])
def test_an_idempotency_key_with_control_characters_is_a_400_in_words(api_post, key, idempotency_key):
    response = api_post(key.secret, ORDER, **{"Idempotency-Key": idempotency_key})
    assert response.status_code == 400
    assert "Idempotency-Key must be printable text" in response.json()["errors"][0]
