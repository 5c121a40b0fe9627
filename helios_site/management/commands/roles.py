"""`manage.py roles`: create or update the Viewer, Publisher, Operator and Admin groups."""

from typing import Any

from django.core.management.base import BaseCommand

from core.roles import ROLES, ensure_roles


class Command(BaseCommand):
    help = "Create or update the role groups (also done after every migrate)."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_roles()
        for name, permissions in ROLES.items():
            self.stdout.write(f"{name:<10} {len(permissions)} permissions")
