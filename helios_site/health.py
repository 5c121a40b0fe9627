"""Liveness and readiness for load balancers and orchestrators.

- `/healthz`: the process answers (no dependency checked).
- `/readyz`: the database answers, every migration is applied, the broker answers, a worker beat
  recently (a worker process beats when it starts, and the sweeper every minute) and, when it
  beat on this host, its process still runs. 200 when ready, 503 otherwise. To anyone the body
  says only `{"ready": …}`; to whoever may read /metrics (its token, or an allowed address) it
  also says which check failed, in words, and each provider config's status.
"""

import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from core.heartbeat import WORKER
from core.models import Heartbeat, WorkerStall
from providers.models import ProviderConfig, ProviderRuntime
from providers.modes import effective_mode

from .metrics import allowed


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve and to deliver: database, migrations, broker, worker heartbeat, providers."""
    checks: dict[str, dict[str, Any]] = {"database": _database()}
    if checks["database"]["ok"]:
        checks["migrations"] = _migrations()
        checks["worker"] = worker_health()
    checks["broker"] = _broker(checks["database"])
    ready = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"ready": ready}
    if allowed(request):  # names, hosts and PIDs only for the operators' own tools
        body["checks"] = checks
        if checks["database"]["ok"]:
            body["providers"] = _providers()
    return JsonResponse(body, status=200 if ready else 503)


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return {"ok": False, "detail": f"the database does not answer ({type(error).__name__})"}
    return {"ok": True, "detail": connection.vendor}


def _migrations() -> dict[str, Any]:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:5])
        return {"ok": False, "detail": f"{len(pending)} migrations not applied ({names})"}
    return {"ok": True, "detail": "all applied"}


def _broker(database: dict[str, Any]) -> dict[str, Any]:
    if settings.Q_BROKER == "orm":
        return {"ok": database["ok"], "detail": "the ORM broker uses the database"}
    from django_q.brokers import get_broker

    try:
        reachable = bool(get_broker().ping())
    except Exception as error:  # the Redis client's errors vary by failure
        return {"ok": False, "detail": f"the broker does not answer ({type(error).__name__})"}
    return {"ok": reachable, "detail": "redis answers" if reachable else "redis does not answer"}


def worker_health() -> dict[str, Any]:
    """Whether a worker beats: {"ok", "detail"} (the operations home and /readyz)."""
    stale_after = timedelta(seconds=settings.HELIOS_HEARTBEAT_STALE_SECONDS)
    last = Heartbeat.objects.filter(name=WORKER).first()
    if last is None:
        return {"ok": False, "detail": "no worker has beaten yet (is `manage.py worker` running?)"}
    stall = WorkerStall.objects.filter(at__gt=last.at).first()
    if stall is not None:
        return {
            "ok": False,
            "detail": f"the worker cluster on {stall.host} stalled at {stall.at:%H:%M:%S} UTC "
            f"({stall.summary}), ended itself, and no worker has started since",
        }
    age = (timezone.now() - last.at).total_seconds()
    if last.host == socket.gethostname() and last.pid and not _running(last.pid):
        return {"ok": False, "detail": f"the last worker to beat ({last.host}, pid {last.pid}) is no longer running"}
    if age > stale_after.total_seconds():
        return {"ok": False, "detail": f"the last worker heartbeat is {age:.0f} s old ({last.host}, pid {last.pid})"}
    return {"ok": True, "detail": f"last beat {age:.0f} s ago ({last.host}, pid {last.pid})"}


def _running(pid: int) -> bool:
    """Whether a process of this host runs with that id."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def _providers() -> list[dict[str, Any]]:
    circuits = dict(ProviderRuntime.objects.values_list("provider_id", "circuit_state"))
    return [
        {
            "name": config.name,
            "kind": config.kind,
            "enabled": config.enabled,
            "mode": effective_mode(config).mode,
            "circuit": circuits.get(config.pk, "closed"),
            "last_check_ok": config.last_check_ok,
        }
        for config in ProviderConfig.objects.order_by("name")
    ]
