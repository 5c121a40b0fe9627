"""Create the daily retention purge schedule idempotently."""

from django.db import migrations
from django.utils import timezone

PURGE_NAME = "helios-purge"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=PURGE_NAME,
        defaults={
            "func": "events.tasks.purge",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=PURGE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0013_stats_latency_sum"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
