"""First-run setup of the console's admin user."""

import os
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class AdminLogin:
    """Who to log in as; the password only when it was just created here."""

    username: str
    password: str | None


def ensure_admin_user(*, username: str = "admin") -> AdminLogin:
    """Create a superuser on first run (password from HELIOS_ADMIN_PASSWORD or generated)."""
    users = get_user_model()
    existing = users.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return AdminLogin(username=existing.get_username(), password=None)
    password = os.environ.get("HELIOS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    users.objects.create_superuser(username=username, email="", password=password)
    return AdminLogin(username=username, password=password)
