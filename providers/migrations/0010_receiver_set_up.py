"""When a receiver was set up: reconciliation windows never reach before it. Receivers that exist
already keep it empty (unknown: their windows are not cut); new ones get the time they are made."""

import django.utils.timezone
from django.db import migrations, models

HELP = "Reconciliation never looks before this: nothing sent earlier could come back (empty: unknown)."


class Migration(migrations.Migration):
    dependencies = [("providers", "0009_endpoint_help")]

    operations = [
        migrations.AddField(
            model_name="receiversettings",
            name="created_at",
            field=models.DateTimeField(blank=True, editable=False, help_text=HELP, null=True, verbose_name="set up"),
        ),
        migrations.AlterField(
            model_name="receiversettings",
            name="created_at",
            field=models.DateTimeField(
                blank=True,
                default=django.utils.timezone.now,
                editable=False,
                help_text=HELP,
                null=True,
                verbose_name="set up",
            ),
        ),
    ]
