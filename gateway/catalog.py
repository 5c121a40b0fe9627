"""What the front door reads on every request and operators change rarely: the provider configs,
the enabled routes with their providers, each key's scope. Each process keeps one copy, under
the catalog stamp it was read at; the database renews the stamp in the same transaction as any
change to them (triggers, gateway migration 0008), and the key's own query reads the stamp
(keys.authenticate), so the next request in every process sees a change, with no statement of
its own while nothing changes. A key's revocation, grant and rate limit are on the key's row,
read fresh on every request.

The copies are shared by the requests of a process: read them, never change them."""

import threading
from dataclasses import dataclass

from django.db.models import Subquery

from events.models import Route
from providers.models import ProviderConfig

from .models import ApiKey, CatalogStamp


@dataclass(frozen=True)
class Catalog:
    """The provider configs by name, the enabled routes (providers prefetched), each key's scope."""

    stamp: str | None
    configs: dict[str, ProviderConfig]
    routes: list[Route]
    scopes: dict[int, frozenset[int]]

    def scope_of(self, key: ApiKey) -> frozenset[int]:
        """The ids of the provider configs the key may publish to."""
        return self.scopes.get(key.pk, frozenset())


_kept: Catalog | None = None
_reading = threading.Lock()


def stamp_subquery() -> Subquery:
    """The catalog stamp, to annotate the key's query with (no statement of its own)."""
    return Subquery(CatalogStamp.objects.filter(pk=1).values("token")[:1])


def catalog(stamp: str | None) -> Catalog:
    """The catalog as of `stamp` (read with the request's key): this process's copy while the
    stamp is the same, read again when it changed. Without a stamp (its row deleted), read afresh
    every time and kept nowhere."""
    global _kept
    kept = _kept
    if stamp is not None and kept is not None and kept.stamp == stamp:
        return kept
    with _reading:
        if stamp is not None and _kept is not None and _kept.stamp == stamp:
            return _kept
        fresh = _read(stamp)
        if stamp is not None:
            _kept = fresh
        return fresh


def _read(stamp: str | None) -> Catalog:
    scopes: dict[int, set[int]] = {}
    for key_id, config_id in ApiKey.providers.through.objects.values_list("apikey_id", "providerconfig_id"):
        scopes.setdefault(key_id, set()).add(config_id)
    return Catalog(
        stamp=stamp,
        configs={config.name: config for config in ProviderConfig.objects.all()},
        routes=list(Route.objects.filter(enabled=True).prefetch_related("providers")),
        scopes={key_id: frozenset(ids) for key_id, ids in scopes.items()},
    )
