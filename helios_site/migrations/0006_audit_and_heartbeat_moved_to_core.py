"""AuditEntry and Heartbeat now belong to core (core.0001): forget them here, keep their tables."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("helios_site", "0005_audit_task_resubmit"),
        ("core", "0001_moved_from_helios_site"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry"), migrations.DeleteModel(name="Heartbeat")],
            database_operations=[],
        ),
    ]
