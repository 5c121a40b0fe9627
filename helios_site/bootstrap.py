"""First-run setup of the console: its admin user, and where it serves."""

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class AdminLogin:
    """Who to log in as; the password only when it was just created here."""

    username: str
    password: str | None


#: The first start's generated password, readable by this user only, for `console --show-login`
#: (this local console's embedded default; a production deployment sets its own users).
FIRST_LOGIN_FILE = Path(settings.BASE_DIR) / ".helios-first-login"
#: Where `make run`'s console last served, for `console --show-login`.
SERVED_ADDRESS_FILE = Path(settings.BASE_DIR) / ".helios-console-addr"


def ensure_admin_user(*, username: str = "admin") -> AdminLogin:
    """Create a superuser on first run (password from HELIOS_ADMIN_PASSWORD or generated)."""
    users = get_user_model()
    if users.objects.filter(is_superuser=True).exists():
        return first_login()
    password = os.environ.get("HELIOS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    users.objects.create_superuser(username=username, email="", password=password)
    if "HELIOS_ADMIN_PASSWORD" not in os.environ:
        descriptor = os.open(FIRST_LOGIN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{username}\n{password}\n")
    return AdminLogin(username=username, password=password)


def first_login() -> AdminLogin:
    """The first superuser, with the first start's password while it is still the password."""
    existing = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if existing is None:
        return AdminLogin(username="admin", password=None)
    given = os.environ.get("HELIOS_ADMIN_PASSWORD", "")
    if given and existing.check_password(given):
        return AdminLogin(username=existing.get_username(), password=given)
    try:
        username, password = FIRST_LOGIN_FILE.read_text().split()[:2]
    except (OSError, ValueError):
        return AdminLogin(username=existing.get_username(), password=None)
    unchanged = username == existing.get_username() and existing.check_password(password)
    return AdminLogin(username=existing.get_username(), password=password if unchanged else None)


def record_served_address(addr: str) -> None:
    """Remember where the console serves (best effort: a read-only checkout only loses the hint)."""
    with contextlib.suppress(OSError):
        SERVED_ADDRESS_FILE.write_text(addr + "\n")


def served_address() -> str | None:
    """Where the console last served, if it was recorded."""
    try:
        return SERVED_ADDRESS_FILE.read_text().strip() or None
    except OSError:
        return None
