"""Record operator actions in the audit trail (called by the services that perform them)."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from core.client_address import client_address

from .models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: a console user and their IP, a service through an API key and its
    IP, or (no address) the command line."""

    user: AbstractBaseUser | None = None
    remote_addr: str | None = None
    #: How, when it is not a console user: e.g. "API key order-service".
    via: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> "Actor":
        """The logged-in user and the client's address (behind the trusted proxies, if any)."""
        return cls(user=request.user, remote_addr=client_address(request) or None)

    def origin(self) -> str:
        """How and from where, in words: "API key order-service, from 10.0.0.5", "from 10.0.0.5"."""
        where = f"from {self.remote_addr}" if self.remote_addr else ""
        return ", ".join(part for part in (self.via, where) if part)

    @property
    def account(self) -> AbstractBaseUser | None:
        """The user to record, if a real one is logged in."""
        return self.user if self.user is not None and self.user.is_authenticated else None


def record(
    *, actor: Actor | None, action: str, target: str, summary: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry to the audit trail."""
    actor = actor or Actor()
    return AuditEntry.objects.create(
        actor=actor.account,
        action=action,
        target=target[:200],
        summary=summary[:500],
        details=details or {},
        remote_addr=(actor.remote_addr or "cli")[:64],
    )
