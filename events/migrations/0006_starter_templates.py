"""Starter event templates: OrderPlaced, PaymentProcessed, OrderShipped, RefundIssued."""

from django.db import migrations

MONEY = {"type": "number", "exclusiveMinimum": 0}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
STARTERS = [
    {
        "name": "OrderPlaced", "event_type": "OrderPlaced", "source": "com.example.shop",
        "subject": "orders/ord-1001", "description": "A customer placed an order.",
        "data": {"order_id": "ord-1001", "customer_id": "cus-7", "amount": 42.5, "currency": "EUR",
                 "lines": [{"sku": "SKU-1", "quantity": 1}]},
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["order_id", "customer_id", "amount", "currency"],
            "properties": {
                "order_id": {"type": "string", "minLength": 1}, "customer_id": {"type": "string", "minLength": 1},
                "amount": MONEY, "currency": CURRENCY,
                "lines": {"type": "array", "items": {"type": "object", "required": ["sku", "quantity"],
                          "properties": {"sku": {"type": "string"},
                                         "quantity": {"type": "integer", "minimum": 1}}}},
            },
        },
    },
    {
        "name": "PaymentProcessed", "event_type": "PaymentProcessed", "source": "com.example.payments",
        "subject": "payments/pay-501", "description": "A payment for an order was captured.",
        "data": {"payment_id": "pay-501", "order_id": "ord-1001", "amount": 42.5, "currency": "EUR",
                 "method": "card"},
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["payment_id", "order_id", "amount", "currency", "method"],
            "properties": {"payment_id": {"type": "string"}, "order_id": {"type": "string"}, "amount": MONEY,
                           "currency": CURRENCY, "method": {"enum": ["card", "transfer", "wallet"]}},
        },
    },
    {
        "name": "OrderShipped", "event_type": "OrderShipped", "source": "com.example.warehouse",
        "subject": "orders/ord-1001", "description": "An order left the warehouse.",
        "data": {"order_id": "ord-1001", "carrier": "DHL", "tracking_number": "JD014600003SE"},
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["order_id", "carrier", "tracking_number"],
            "properties": {"order_id": {"type": "string"}, "carrier": {"type": "string"},
                           "tracking_number": {"type": "string", "minLength": 4}},
        },
    },
    {
        "name": "RefundIssued", "event_type": "RefundIssued", "source": "com.example.payments",
        "subject": "refunds/ref-77", "description": "Money went back to the customer.",
        "data": {"refund_id": "ref-77", "order_id": "ord-1001", "amount": 10.0, "currency": "EUR",
                 "reason": "damaged item"},
        "json_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["refund_id", "order_id", "amount", "currency"],
            "properties": {"refund_id": {"type": "string"}, "order_id": {"type": "string"}, "amount": MONEY,
                           "currency": CURRENCY, "reason": {"type": "string"}},
        },
    },
]


def add_starters(apps, schema_editor):
    EventTemplate = apps.get_model("events", "EventTemplate")
    for starter in STARTERS:
        EventTemplate.objects.get_or_create(name=starter["name"], defaults=starter)


def remove_starters(apps, schema_editor):
    apps.get_model("events", "EventTemplate").objects.filter(name__in=[s["name"] for s in STARTERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0005_event_templates")]

    operations = [migrations.RunPython(add_starters, remove_starters)]
