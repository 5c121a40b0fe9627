"""Permission checks that say, when they refuse, which permission is needed and which roles have it."""

from django.contrib.auth.models import AnonymousUser, Permission, User
from django.core.exceptions import PermissionDenied

from .roles import ROLES


def roles_with(permission: str) -> list[str]:
    """The console roles that grant a permission ("app_label.codename"), in role order."""
    return [role for role, granted in ROLES.items() if permission in granted]


def permission_label(permission: str) -> str:
    """The permission's own name, e.g. "Can add event" (the dotted name when it is unknown)."""
    app_label, codename = permission.split(".", 1)
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    return found.name if found else permission


def require(user: User | AnonymousUser, permission: str, *, to: str) -> None:
    """Raise PermissionDenied, in words, unless the user has the permission."""
    if user.has_perm(permission):
        return
    raise PermissionDenied(refusal_for(permission, to=to))


def refusal_for(permission: str, *, to: str) -> str:
    """Why a user may not do something, in words: the permission and the roles that have it."""
    roles = roles_with(permission)
    granted_by = f" (roles: {', '.join(roles)})" if roles else " (no console role grants it; ask an administrator)"
    return f"To {to} you need the permission “{permission_label(permission)}”{granted_by}."


def admin_page_permission(url_name: str) -> tuple[str, str] | None:
    """For a stock admin page's URL name ("core_auditentry_changelist"), the permission it needs
    and what the page does in words ("open audit entries"); None for another page."""
    from django.contrib import admin

    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if not url_name.startswith(prefix):
            continue
        action = url_name.removeprefix(prefix)
        verb = {"changelist": "view", "change": "view", "history": "view", "add": "add", "delete": "delete"}.get(action)
        if verb is None:
            return None
        names = model._meta.verbose_name_plural if action == "changelist" else model._meta.verbose_name
        words = {"view": f"open {names}", "add": f"add {names}", "delete": f"delete {names}"}[verb]
        return f"{model._meta.app_label}.{verb}_{model._meta.model_name}", words
    return None
