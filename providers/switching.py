"""Switching a provider config between demo and production: deliberate, permissioned, audited."""

import json
import logging

from django.db import transaction

from core import audit
from core.audit import Actor
from core.models import AuditAction

from .models import ModeChange, ProviderConfig, ProviderMode
from .modes import effective_mode

json_logger = logging.getLogger("helios.json")


class ModeSwitchRefused(Exception):
    """The switch was not made; the message says why."""


def switch_mode(*, config: ProviderConfig, to_mode: str, actor: Actor, reason: str) -> ModeChange:
    """Switch a config between demo and production, audited. Production needs a reason."""
    if to_mode not in ProviderMode.values:
        raise ModeSwitchRefused(f"Unknown mode {to_mode!r}.")
    reason = reason.strip()
    if to_mode == ProviderMode.PRODUCTION and not reason:
        raise ModeSwitchRefused("Give a reason for switching to production; it is kept in the audit log.")
    with transaction.atomic():
        locked = ProviderConfig.objects.select_for_update().get(pk=config.pk)
        if locked.mode == to_mode:
            raise ModeSwitchRefused(f"{locked.name} is already in {to_mode} mode.")
        from_mode = locked.mode
        locked.mode = to_mode
        locked.save(update_fields=["mode", "updated_at"])
        mode = effective_mode(locked)
        change = ModeChange.objects.create(
            provider=locked,
            changed_by=actor.account,
            from_mode=from_mode,
            to_mode=to_mode,
            reason=reason or "(no reason given)",
            effective_mode=mode.mode,
            effective_reason=mode.reason[:500],
            remote_addr=actor.remote_addr,
        )
        audit.record(
            actor=actor,
            action=AuditAction.MODE_SWITCH,
            target=f"provider {locked.name}",
            summary=f"{from_mode} → {to_mode} (effective: {mode.mode}): {change.reason}",
            details={"from": from_mode, "to": to_mode, "effective_mode": mode.mode, "effective_reason": mode.reason},
        )
    config.refresh_from_db()
    json_logger.info(
        json.dumps(
            {
                "event": "provider_mode_switch",
                "provider": config.name,
                "from": from_mode,
                "to": to_mode,
                "effective_mode": mode.mode,
                "reason": mode.reason,
                "user": actor.account.get_username() if actor.account else None,
            }
        )
    )
    return change
