"""Create the sweeper schedule idempotently: every minute, recover leases and ring for due work."""

from django.db import migrations
from django.utils import timezone

SWEEPER_NAME = "helios-sweeper"


def create_sweeper(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SWEEPER_NAME,
        defaults={
            "func": "events.tasks.sweep",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_sweeper(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEPER_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_sweeper, remove_sweeper)]
