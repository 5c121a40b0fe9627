"""The expansion bell: one row saying whether an expansion task is queued and not started yet."""

from django.db import migrations, models


def create_bell(apps, schema_editor):
    apps.get_model("gateway", "ExpansionBell").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("gateway", "0009_help_text_placeholders")]

    operations = [
        migrations.CreateModel(
            name="ExpansionBell",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pending", models.BooleanField(default=False)),
            ],
        ),
        migrations.RunPython(create_bell, migrations.RunPython.noop),
    ]
