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
    roles = roles_with(permission)
    granted_by = f" (roles: {', '.join(roles)})" if roles else " (no console role grants it; ask an administrator)"
    raise PermissionDenied(f"To {to} you need the permission “{permission_label(permission)}”{granted_by}.")
