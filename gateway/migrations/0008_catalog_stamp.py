"""The catalog stamp: a token renewed by database triggers whenever a provider config, a route,
a route's providers or a key's scope changes (any writer: the console, a queryset update, SQL
typed by hand), so every process's copy of them is replaced on its next request.

SQLite drops a table's triggers when a migration rebuilds that table: gateway/catalog_triggers.py
creates them again after every `migrate` (tests/gateway/test_catalog.py fails if it does not)."""

from django.db import migrations, models

WATCHED = ("providers_providerconfig", "events_route", "events_route_providers", "gateway_apikey_providers")
STAMP = "gateway_catalogstamp"

POSTGRESQL = [
    f"""CREATE FUNCTION helios_renew_catalog_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {STAMP} (id, token) VALUES (1, gen_random_uuid()::text)
        ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
        RETURN NULL;
    END $$""",
    *(
        f"CREATE TRIGGER helios_catalog_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION helios_renew_catalog_stamp()"
        for table in WATCHED
    ),
]
POSTGRESQL_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS helios_catalog_stamp ON {table}" for table in WATCHED),
    "DROP FUNCTION IF EXISTS helios_renew_catalog_stamp()",
]
SQLITE = [
    f"""CREATE TRIGGER helios_catalog_stamp_{table}_{operation.lower()} AFTER {operation} ON {table}
    BEGIN
        UPDATE {STAMP} SET token = lower(hex(randomblob(16))) WHERE id = 1;
        INSERT OR IGNORE INTO {STAMP} (id, token) VALUES (1, lower(hex(randomblob(16))));
    END"""  # not INSERT OR REPLACE: an outer INSERT OR IGNORE (Django's m2m add) would make it IGNORE
    for table in WATCHED
    for operation in ("INSERT", "UPDATE", "DELETE")
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS helios_catalog_stamp_{table}_{operation.lower()}"
    for table in WATCHED
    for operation in ("INSERT", "UPDATE", "DELETE")
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def create_triggers(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL, "sqlite": SQLITE})
    apps.get_model("gateway", "CatalogStamp").objects.update_or_create(pk=1, defaults={"token": "initial"})


def drop_triggers(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE})


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0007_expand_accepted_schedule"),
        ("providers", "0009_endpoint_help"),
        ("events", "0021_replays_and_resends"),
    ]

    operations = [
        migrations.CreateModel(
            name="CatalogStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=64)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
