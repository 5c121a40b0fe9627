"""Rows written in one go (COPY on PostgreSQL) fail as the ORM's writes do: a duplicate is
Django's IntegrityError, so callers that catch it (an idempotency key's race) keep working."""

import pytest
from django.db import IntegrityError, transaction

from events.models import Event
from events.services.rows import insert_rows, prepared_values
from tests.publishing import publish_event

pytestmark = pytest.mark.django_db


def test_a_duplicate_row_is_an_integrity_error(demo_providers):
    event = publish_event(event_type="OrderPlaced", source="com.test", data={"n": 1}, providers=demo_providers)
    again = Event(id=event.pk, type="OrderPlaced", source="com.test", data={}, created_at=event.created_at)
    values = prepared_values(again)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Event, list(values), [tuple(values.values())])
    assert Event.objects.count() == 1
