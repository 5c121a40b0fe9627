"""`manage.py worker`: a django-q2 cluster under a watchdog that ends it whole when it jams.

The supervisor runs `manage.py qcluster` as a child in a process group of its own and, once a
second, compares the work waiting in the broker with what the cluster's workers report
(core.worker_state). When tasks have waited `HELIOS_WORKER_STALL_SECONDS` while no worker started
or finished one, and at least one worker was free to take it (or none is alive), the cluster can
no longer take tasks: the supervisor logs it, records a `WorkerStall` (the operations home and
/readyz show it), kills the whole process group, rings again for every due delivery (the tasks
the cluster held come back only after django-q2's `retry`) and exits with `EXIT_STALLED`, so that its own
supervisor (`make run`'s console, systemd, Kubernetes) starts a fresh one. The cause it was
written for is django-q2's: see docs/delivery-engine.md, "A jammed cluster".

SIGTERM or SIGINT asks the cluster to stop as django-q2 does; whatever still runs after
`HELIOS_WORKER_STOP_SECONDS` is killed, so a stop always ends the cluster and every process in
it. Every process of the cluster also dies with its parent (core.lifeline): nothing outlives it.
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_q.brokers import Broker, get_broker

from core.lifeline import SUPERVISOR_PID_ENV
from core.models import WorkerStall
from core.worker_state import STATE_DIR_ENV, MarkReader, WorkerMarks

logger = logging.getLogger("helios.worker")

#: The exit status of a supervisor that ended a stalled cluster (EX_TEMPFAIL: start it again).
EXIT_STALLED = 75
CHECK_INTERVAL_SECONDS = 1.0


@dataclass
class StallWatch:
    """Decides, one observation at a time, whether a cluster has stalled."""

    stall_seconds: float
    waiting_since: float | None = None

    def observe(self, *, now: float, waiting_tasks: int, marks: WorkerMarks) -> float:
        """How long work (tasks in the broker, or taken by the cluster's pusher and not started)
        has waited with no worker progress and a worker free to take it (0 when the cluster is
        fine: nothing waits, a task started or finished since, or every worker is busy)."""
        if waiting_tasks + marks.held == 0:
            self.waiting_since = None
            return 0.0
        if self.waiting_since is None:
            self.waiting_since = now
        if marks.idle == 0 and marks.busy > 0:
            return 0.0  # every worker is running a task: waiting is normal
        return max(0.0, now - max(self.waiting_since, marks.last_change))

    def stalled(self, stalled_for: float) -> bool:
        """Whether that is long enough to end the cluster."""
        return stalled_for >= self.stall_seconds


class Supervisor:
    """One qcluster child, watched until it stalls, exits, or this process is asked to stop."""

    def __init__(self, *, stall_seconds: float, stop_seconds: float) -> None:
        self.watch = StallWatch(stall_seconds)
        self.stop_seconds = stop_seconds
        self.stop_requested = False
        self.state_dir = Path(tempfile.mkdtemp(prefix="helios-worker-"))
        self.child: subprocess.Popen | None = None
        self.marks: MarkReader | None = None

    def run(self) -> int:
        """Start the cluster and watch it; the exit status for this process."""
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        env = {**os.environ, STATE_DIR_ENV: str(self.state_dir), SUPERVISOR_PID_ENV: str(os.getpid())}
        manage = os.path.abspath(sys.argv[0])
        self.child = subprocess.Popen([sys.executable, manage, "qcluster"], env=env, start_new_session=True)
        self.marks = MarkReader(self.state_dir, self.child.pid)
        try:
            return self._watch()
        finally:
            self._kill_group()
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _watch(self) -> int:
        assert self.child is not None
        broker = get_broker()
        while not self.stop_requested:
            close_old_connections()
            if (code := self.child.poll()) is not None:
                logger.error("the worker cluster exited by itself (status %s)", code)
                return 128 - code if code < 0 else code or 1
            stalled_for, waiting, marks = self._observe(broker)
            if self.watch.stalled(stalled_for):
                self._report_stall(stalled_for, waiting, marks)
                self._kill_group()
                self._ring_again()
                return EXIT_STALLED
            time.sleep(CHECK_INTERVAL_SECONDS)
        return self._stop()

    def _observe(self, broker: Broker) -> tuple[float, int, WorkerMarks]:
        try:
            waiting = broker.queue_size()
        except Exception as error:  # the database or Redis is away: not the cluster's fault
            logger.warning("worker watchdog: the broker does not answer (%s)", type(error).__name__)
            waiting = 0
        assert self.marks is not None
        marks = self.marks.read()
        return self.watch.observe(now=time.time(), waiting_tasks=waiting, marks=marks), waiting, marks

    def _report_stall(self, stalled_for: float, waiting: int, marks: WorkerMarks) -> None:
        stall = WorkerStall(
            at=timezone.now(),
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            waiting_tasks=waiting + marks.held,
            stalled_seconds=stalled_for,
            busy_workers=marks.busy,
            idle_workers=marks.idle,
        )
        logger.critical(
            "the worker cluster stalled: %s; ending its whole process group so that a fresh one starts",
            stall.summary,
        )
        try:
            stall.save()
        except Exception as error:  # the log line above still says it
            logger.error("could not record the worker stall (%s)", type(error).__name__)

    @staticmethod
    def _ring_again() -> None:
        """The tasks the jammed cluster held (its doorbells among them) come back only after
        django-q2's `retry`: ring for every due delivery now (the sweeper's work, idempotent), so
        that the fresh cluster finds them at once."""
        from events.services.sweeper import sweep

        try:
            sweep()
        except Exception as error:  # the minute's sweeper will do it
            logger.error("after the stall, could not ring for due deliveries (%s)", type(error).__name__)

    def _stop(self) -> int:
        """Ask the cluster to stop; kill whatever still runs after the stop deadline."""
        assert self.child is not None
        self.child.send_signal(signal.SIGTERM)
        try:
            self.child.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            logger.error("the worker cluster did not stop within %g s: killing it", self.stop_seconds)
        return 0

    def _kill_group(self) -> None:
        """SIGKILL every process left in the cluster's group, then reap the child (again: a no-op)."""
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)
        self.child.wait()


def run_worker() -> int:
    """Run one supervised cluster with the deployment's settings; the exit status."""
    supervisor = Supervisor(
        stall_seconds=settings.HELIOS_WORKER_STALL_SECONDS, stop_seconds=settings.HELIOS_WORKER_STOP_SECONDS
    )
    return supervisor.run()
