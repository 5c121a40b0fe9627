"""`manage.py roles`: the Viewer, Publisher, Operator and Admin groups, who has which, and giving
a user a role without the Users page.

    manage.py roles                 create or update the groups (also done after every migrate)
    manage.py roles list            each role, its permissions count and its users
    manage.py roles assign USER ROLE   make USER a staff user with ROLE (and only ROLE); audited
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.roles import ROLES, assign_role, ensure_roles, role_members


class Command(BaseCommand):
    help = (
        "Role groups: no argument creates or updates them; `list` shows each role and its users; "
        "`assign USER ROLE` gives a user one role (staff status included), audited. Exit status 2 "
        "on an unknown user or role."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["list", "assign"], help="list, or assign USER ROLE")
        parser.add_argument("operands", nargs="*", help="for assign: the user name and the role")

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_roles()
        action, operands = options["action"], options["operands"]
        if action == "assign":
            self.assign(operands)
        elif action == "list":
            self.list_roles()
        else:
            for name, permissions in ROLES.items():
                self.stdout.write(f"{name:<10} {len(permissions)} permissions")

    def assign(self, operands: list[str]) -> None:
        if len(operands) != 2:
            raise CommandError("Usage: manage.py roles assign USER ROLE", returncode=2)
        username, role = operands
        chosen = next((name for name in ROLES if name.lower() == role.lower()), None)
        if chosen is None:
            raise CommandError(f"No role {role!r}: choose one of {', '.join(ROLES)}.", returncode=2)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                f"No user {username!r}: create it first (manage.py createsuperuser for an Admin, or "
                "Users > Add in the console).",
                returncode=2,
            )
        before = assign_role(user, chosen)
        was = f" (was {', '.join(before)})" if before else ""
        self.stdout.write(f"{username} is now {chosen}{was}; staff status on.")

    def list_roles(self) -> None:
        members = role_members()
        for name, permissions in ROLES.items():
            users = ", ".join(members.get(name, [])) or "-"
            self.stdout.write(f"{name:<10} {len(permissions):>3} permissions   users: {users}")
