"""Create the hourly reconciliation schedule idempotently."""

from django.db import migrations
from django.utils import timezone

RECONCILE_NAME = "helios-reconcile"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=RECONCILE_NAME,
        defaults={
            "func": "events.tasks.reconcile_recent",
            "schedule_type": "H",  # Schedule.HOURLY
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=RECONCILE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0011_round_trip"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
