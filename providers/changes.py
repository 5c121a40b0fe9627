"""Audited changes to provider configs and their receivers, made in the console."""

from collections.abc import Mapping, Sequence
from typing import Any

from core import audit
from core.audit import Actor
from core.models import AuditAction

from .models import ProviderConfig, ProviderMode, ReceiverSettings
from .production import TARGET_FIELDS


def record_config_saved(
    *, actor: Actor, config: ProviderConfig, created: bool, changed: Sequence[str], before: Mapping[str, Any]
) -> None:
    """Audit a config just created, or the fields just changed (with their values before and after);
    a production config's new target is named as such."""
    changed = sorted(changed)
    retargeted = [name for name in changed if name in TARGET_FIELDS and config.mode == ProviderMode.PRODUCTION]
    if created:
        summary = f"Created {config.get_kind_display()}"
    elif retargeted:
        summary = f"PRODUCTION target changed (confirmed by name): {', '.join(retargeted)}"
    else:
        summary = f"Changed {', '.join(changed) or 'nothing'}"
    audit.record(
        actor=actor,
        action=AuditAction.CONFIG_CREATE if created else AuditAction.CONFIG_CHANGE,
        target=f"provider {config.name}",
        summary=summary,
        details={
            "fields": {name: str(getattr(config, name)) for name in changed},
            "before": {name: str(before.get(name, "")) for name in changed},
        },
    )


def record_receiver_saved(*, actor: Actor, config: ProviderConfig, changed: Sequence[str], removed: bool) -> None:
    """Audit a change to a config's round-trip receiver, or its removal."""
    if not (changed or removed):
        return
    audit.record(
        actor=actor,
        action=AuditAction.CONFIG_CHANGE,
        target=f"provider {config.name}",
        summary="Receiver removed" if removed else f"Receiver: changed {', '.join(sorted(changed))}",
        details={"receiver_fields": sorted(changed)},
    )
    receiver = ReceiverSettings.objects.filter(provider=config).first()
    if receiver is not None and {"healing", "confirm_healing"} & set(changed):
        confirmed = " (automatic in production, confirmed by name)" if receiver.healing_confirmed_at else ""
        audit.record(
            actor=actor,
            action=AuditAction.HEALING_POLICY,
            target=f"provider {config.name}",
            summary=f"Self-healing: {receiver.get_healing_display()}{confirmed}",
            details={
                "healing": receiver.healing,
                "max_per_hour": receiver.healing_max_per_hour,
                "max_age_hours": receiver.healing_max_age_hours,
            },
        )


def delete_config(*, actor: Actor, config: ProviderConfig) -> None:
    """Delete a config (one without deliveries: history is kept) and audit it."""
    audit.record(
        actor=actor,
        action=AuditAction.CONFIG_DELETE,
        target=f"provider {config.name}",
        summary=f"Deleted {config.get_kind_display()} {config.name}",
    )
    config.delete()
