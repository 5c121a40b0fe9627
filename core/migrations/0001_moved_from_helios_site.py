"""AuditEntry and Heartbeat move from helios_site to core: the state only (the tables keep their
names and rows), and their content types with them, so permissions granted on them stay granted."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.models import AuditAction

MOVED = ["auditentry", "heartbeat"]


def move_content_type(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="helios_site", model__in=MOVED).update(app_label="core")


def move_content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="core", model__in=MOVED).update(app_label="helios_site")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("helios_site", "0005_audit_task_resubmit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("action", models.CharField(choices=AuditAction.choices, db_index=True, max_length=32)),
                        (
                            "target",
                            models.CharField(
                                blank=True, help_text="What was acted on, e.g. provider or event.", max_length=200
                            ),
                        ),
                        ("summary", models.CharField(max_length=500)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        (
                            "remote_addr",
                            models.CharField(
                                blank=True, help_text="IP address, or 'cli'.", max_length=64, verbose_name="from"
                            ),
                        ),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "helios_site_auditentry",
                        "verbose_name_plural": "audit entries",
                        "ordering": ["-at", "-id"],
                        "indexes": [models.Index(fields=["action", "-at"], name="audit_action_idx")],
                    },
                ),
                migrations.CreateModel(
                    name="Heartbeat",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=50, unique=True)),
                        ("at", models.DateTimeField()),
                        ("host", models.CharField(blank=True, max_length=255)),
                        ("pid", models.PositiveIntegerField(blank=True, null=True)),
                    ],
                    options={"db_table": "helios_site_heartbeat"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
