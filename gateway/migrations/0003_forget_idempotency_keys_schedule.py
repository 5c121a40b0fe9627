"""Create the daily schedule that forgets expired Idempotency-Key answers, idempotently."""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "helios-forget-idempotency-keys"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "gateway.tasks.forget_idempotency_keys",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0002_rate_window"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
