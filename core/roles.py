"""The console's roles as Django groups: Viewer ⊂ Publisher ⊂ Operator ⊂ Admin.

Created after every `migrate` (post_migrate) and by `manage.py roles`; idempotent. A group's
permissions are reset to exactly this table each time, so a change here reaches every deployment.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

VIEWER = [
    "events.view_event",
    "events.view_delivery",
    "events.view_deliveryattempt",
    "events.view_bulkupload",
    "events.view_receipt",
    "events.view_reconciliationreport",
    "events.view_reconciliationitem",
    "events.view_eventtemplate",
    "events.view_route",
    "providers.view_providerconfig",
    "providers.view_modechange",
]
PUBLISHER = [*VIEWER, "events.add_event"]
OPERATOR = [
    *PUBLISHER,
    "events.retry_delivery",
    "events.export_delivery",
    "events.bulk_send",
    "events.view_replay",
    "events.replay_events",
]
ADMIN = [
    *OPERATOR,
    "providers.add_providerconfig",
    "providers.change_providerconfig",
    "providers.delete_providerconfig",
    "providers.switch_mode",
    "providers.add_receiversettings",
    "providers.change_receiversettings",
    "providers.delete_receiversettings",
    "providers.view_receiversettings",
    "core.view_auditentry",
    "events.add_route",
    "events.change_route",
    "events.delete_route",
    "gateway.view_apikey",
    "gateway.add_apikey",
    "gateway.change_apikey",
    "events.add_eventtemplate",
    "events.change_eventtemplate",
    "events.delete_eventtemplate",
    "django_q.view_schedule",
    "django_q.view_success",
    "django_q.view_failure",
    # Only to resubmit tasks (audited); their pages stay read-only.
    "django_q.change_success",
    "django_q.change_failure",
    "django_q.view_ormq",
]
ROLES: dict[str, list[str]] = {"Viewer": VIEWER, "Publisher": PUBLISHER, "Operator": OPERATOR, "Admin": ADMIN}


def ensure_roles() -> list[str]:
    """Create or update the role groups; return their names."""
    for name, permissions in ROLES.items():
        wanted = Q()
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        found = list(Permission.objects.filter(wanted))
        if len(found) != len(permissions):
            missing = set(permissions) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
            raise LookupError(f"role {name}: unknown permissions {sorted(missing)}")
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(found)
    return list(ROLES)
