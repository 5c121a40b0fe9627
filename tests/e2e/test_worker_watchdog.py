"""`manage.py worker` with real processes: a jammed cluster is noticed, ended whole and replaced;
a stop always ends every process of it; nothing is lost or sent twice."""

import os
import signal
import time
from pathlib import Path

import pytest

from core.models import WorkerStall
from events.models import Delivery, DeliveryAttempt
from helios_site.worker_supervisor import EXIT_STALLED
from tests.publishing import publish_event

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def process_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, process title) for every live process of this machine (zombies, dead
    and waiting to be reaped, are left out)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z":
            continue
        table[int(entry.name)] = (int(ppid), title)
    return table


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its title."""
    table = process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, title) in table.items():
            if ppid == parent and child not in found:
                found[child] = title
                frontier.append(child)
    return found


def idle_workers(supervisor: int) -> list[int]:
    """The cluster's django-q2 workers waiting for a task (setproctitle: `qcluster … idle`)."""
    return [pid for pid, title in descendants(supervisor).items() if title.endswith(" idle")]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def alive(pids) -> list[int]:
    table = process_table()
    return [pid for pid in pids if pid in table]


def test_killing_the_idle_workers_jams_the_cluster_which_ends_itself_whole_and_a_fresh_one_delivers(
    demo_providers, start_qcluster
):
    """django-q2 issue #23: a worker killed while it waits for a task holds the task queue's lock
    for ever. The supervisor notices (work waiting, no worker progress) and ends the cluster."""
    jammed = start_qcluster(Q_WORKERS="2", HELIOS_WORKER_STALL_SECONDS="3")
    supervisor = jammed.process.pid
    wait_for(lambda: len(idle_workers(supervisor)) == 2, 30, "two idle workers")
    cluster = descendants(supervisor)
    for pid in idle_workers(supervisor):
        os.kill(pid, signal.SIGKILL)
    config = next(c for c in demo_providers if c.name == "gcp-demo")
    event = publish_event(event_type="OrderPlaced", source="com.test", data={"n": 1}, providers=[config])

    assert jammed.process.wait(timeout=90) == EXIT_STALLED
    assert "the worker cluster stalled" in jammed.log()
    assert alive(cluster) == []  # sentinel, monitor, pusher, respawned workers: all gone
    stall = WorkerStall.objects.get()
    assert stall.waiting_tasks >= 1 and stall.idle_workers == 2 and stall.busy_workers == 0

    start_qcluster(Q_WORKERS="2")  # what the process supervisor does
    delivery = Delivery.objects.get(event=event)
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status="succeeded").exists(), 90, "delivered")
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1  # nothing lost, nothing twice


def test_sigterm_ends_a_jammed_cluster_and_all_its_processes_within_30_seconds(demo_providers, start_qcluster):
    """django-q2 alone waits for the jammed pusher for ever (issues #23, #346)."""
    jammed = start_qcluster(Q_WORKERS="2", HELIOS_WORKER_STALL_SECONDS="600", HELIOS_WORKER_STOP_SECONDS="5")
    supervisor = jammed.process.pid
    wait_for(lambda: len(idle_workers(supervisor)) == 2, 30, "two idle workers")
    for pid in idle_workers(supervisor):
        os.kill(pid, signal.SIGKILL)
    config = next(c for c in demo_providers if c.name == "gcp-demo")
    publish_event(event_type="OrderPlaced", source="com.test", data={}, providers=[config])
    wait_for(lambda: len(idle_workers(supervisor)) == 2, 30, "respawned workers")
    cluster = descendants(supervisor)

    started = time.monotonic()
    jammed.process.terminate()
    assert jammed.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 30
    assert alive(cluster) == []


def test_a_killed_supervisor_takes_its_whole_cluster_with_it(demo_providers, start_qcluster):
    """No orphan, ever: every process of the cluster dies with its parent (PR_SET_PDEATHSIG)."""
    worker = start_qcluster(Q_WORKERS="2")
    supervisor = worker.process.pid
    wait_for(lambda: len(idle_workers(supervisor)) == 2, 30, "two idle workers")
    cluster = descendants(supervisor)
    assert len(cluster) >= 6  # qcluster main, sentinel, monitor, pusher, two workers
    worker.process.kill()
    worker.process.wait()
    wait_for(lambda: alive(cluster) == [], 10, f"orphans left: {alive(cluster)}")
