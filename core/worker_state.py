"""What the processes of one supervised cluster say about themselves, and how the supervisor
(`manage.py worker`) reads it.

The supervisor gives its cluster a directory in `HELIOS_WORKER_STATE_DIR`. In it:
- each django-q2 worker keeps a file `worker-<pid>`: whether it is running a task, and how many
  tasks it has started; its modification time is its last change (a task started or finished,
  or the worker started);
- the pusher keeps `pusher-<pid>`: how many tasks it has taken from the broker (core.brokers).

Tasks the pusher took that no worker started are in the cluster's hands, invisible to the
broker: that is where a jammed cluster holds them. Each change is one `pwrite`; no lock is
shared between processes, so a process killed at any moment leaves none held (the very fault
this guards against: django-q2's own queue lock, see docs/delivery-engine.md).
"""

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

STATE_DIR_ENV = "HELIOS_WORKER_STATE_DIR"
BUSY, IDLE = b"b", b"i"
_WORKER = struct.Struct("<cQ")  # state, tasks started
_PUSHER = struct.Struct("<Q")  # tasks taken

_files: dict[str, int] = {}
_started = 0
_taken = 0


def install_marks() -> None:
    """In a supervised cluster (the environment names a state directory), make its workers mark
    their state on django-q2's worker signals."""
    if not os.environ.get(STATE_DIR_ENV):
        return
    from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

    post_spawn.connect(_worker_started, dispatch_uid="helios_worker_state_spawn")
    pre_execute.connect(_task_started, dispatch_uid="helios_worker_state_busy")
    post_execute_in_worker.connect(_task_finished, dispatch_uid="helios_worker_state_idle")


def _worker_started(sender: object, **kwargs: object) -> None:
    _write("worker", _WORKER.pack(IDLE, _started))


def _task_started(sender: object, **kwargs: object) -> None:
    global _started
    _started += 1
    _write("worker", _WORKER.pack(BUSY, _started))


def _task_finished(sender: object, **kwargs: object) -> None:
    _write("worker", _WORKER.pack(IDLE, _started))


def mark_taken(count: int) -> None:
    """The pusher took `count` tasks from the broker (a no-op outside a supervised cluster)."""
    global _taken
    if count and os.environ.get(STATE_DIR_ENV):
        _taken += count
        _write("pusher", _PUSHER.pack(_taken))


def _write(role: str, data: bytes) -> None:
    fd = _files.get(role)
    if fd is None:
        path = Path(os.environ[STATE_DIR_ENV]) / f"{role}-{os.getpid()}"
        fd = _files[role] = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.pwrite(fd, data, 0)
    os.utime(fd)  # the same bytes written again still move the time


@dataclass(frozen=True)
class WorkerMarks:
    """A cluster's live workers and the tasks in its hands, as its files tell it."""

    busy: int
    idle: int
    #: Tasks the pusher took that no worker has started (held in the cluster's own queue).
    held: int
    #: time.time() of the newest worker change (a task started or finished, a worker started); 0 if none.
    last_change: float


@dataclass
class MarkReader:
    """Reads one cluster's directory; remembers the counts of processes that have died."""

    state_dir: Path
    process_group: int
    retired: dict[str, int] = field(default_factory=lambda: {"worker": 0, "pusher": 0})

    def read(self) -> WorkerMarks:
        """The marks now (files of dead processes are folded into the totals and removed; a pid
        reused outside the cluster's process group is not counted)."""
        busy = idle = 0
        totals = dict(self.retired)
        last_change = 0.0
        for path in self.state_dir.iterdir():
            role, _, pid = path.name.partition("-")
            try:
                data, changed = path.read_bytes(), path.stat().st_mtime
            except FileNotFoundError:
                continue
            count = _count(role, data)
            if not self._alive(pid):
                self.retired[role] = self.retired.get(role, 0) + count
                totals[role] = totals.get(role, 0) + count
                path.unlink(missing_ok=True)
                continue
            totals[role] = totals.get(role, 0) + count
            if role == "worker":
                busy += data[:1] == BUSY
                idle += data[:1] != BUSY
                last_change = max(last_change, changed)
        held = max(0, totals["pusher"] - totals["worker"])
        return WorkerMarks(busy=busy, idle=idle, held=held, last_change=last_change)

    def _alive(self, pid: str) -> bool:
        try:
            return os.getpgid(int(pid)) == self.process_group
        except (ValueError, ProcessLookupError):
            return False


def _count(role: str, data: bytes) -> int:
    """The counter in a file's bytes (0 for a file not yet written in full)."""
    layout = _WORKER if role == "worker" else _PUSHER
    if len(data) < layout.size:
        return 0
    return layout.unpack_from(data)[-1]
