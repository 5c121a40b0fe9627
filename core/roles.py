"""The console's roles as Django groups: Viewer ⊂ Publisher ⊂ Operator ⊂ Admin.

Created after every `migrate` (post_migrate) and by `manage.py roles`; idempotent. A group's
permissions are reset to exactly this table each time, so a change here reaches every deployment.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from . import audit
from .audit import Actor
from .models import AuditAction

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


def assign_role(user: AbstractBaseUser, role: str, *, actor: Actor | None = None) -> list[str]:
    """Give `user` the role `role` and only it (other role groups removed, other groups kept),
    with staff status so they can log in to the console; audited. The roles they had before."""
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    before = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    with transaction.atomic():
        user.groups.remove(*[groups[name] for name in before if name != role])
        user.groups.add(groups[role])
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        audit.record(
            actor=actor,
            action=AuditAction.ROLE_ASSIGN,
            target=f"user {user.get_username()}",
            summary=f"{user.get_username()} is now {role}" + (f" (was {', '.join(before)})" if before else ""),
            details={"role": role, "before": before},
        )
    return before


def role_members() -> dict[str, list[str]]:
    """Each role's users, by user name."""
    members: dict[str, list[str]] = {}
    for name, username in Group.objects.filter(name__in=ROLES).values_list("name", "user__username"):
        if username:
            members.setdefault(name, []).append(username)
    return {name: sorted(users) for name, users in members.items()}
