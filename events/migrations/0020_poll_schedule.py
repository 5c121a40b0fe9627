"""Create the every-minute schedule that queues the pull round trip's polls, idempotently."""

from django.db import migrations
from django.utils import timezone

POLL_NAME = "helios-poll-subscriptions"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=POLL_NAME,
        defaults={
            "func": "events.tasks.poll_subscriptions",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=POLL_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0019_routes"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
