"""Create the minute's schedule that expands accepted API requests a lost task left, idempotently."""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "helios-expand-accepted"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "gateway.tasks.expand_accepted_requests",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("gateway", "0006_accept_log")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
