"""The marks a supervised cluster's processes keep, and the stall rule the supervisor applies."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import worker_state
from core.worker_state import MarkReader, WorkerMarks
from helios_site.worker_supervisor import StallWatch


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(worker_state.STATE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(worker_state, "_files", {})
    monkeypatch.setattr(worker_state, "_started", 0)
    monkeypatch.setattr(worker_state, "_taken", 0)
    return tmp_path


def test_a_worker_marks_busy_and_idle_and_the_pusher_counts_what_it_takes(state_dir: Path):
    reader = MarkReader(state_dir, os.getpgid(0))
    worker_state._worker_started(sender="django_q")
    first = reader.read()
    assert (first.busy, first.idle, first.held) == (0, 1, 0) and first.last_change > 0
    worker_state.mark_taken(3)
    worker_state._task_started(sender="django_q")
    marks = reader.read()
    assert (marks.busy, marks.idle, marks.held) == (1, 0, 2)  # 3 taken, 1 started: 2 held
    worker_state._task_finished(sender="django_q")
    assert (reader.read().busy, reader.read().idle) == (0, 1)


def test_a_dead_process_counts_stay_and_its_file_goes(state_dir: Path):
    """A worker that started tasks and died: its started count still balances what the pusher took."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (state_dir / f"worker-{dead_pid}").write_bytes(worker_state._WORKER.pack(worker_state.IDLE, 5))
    (state_dir / f"pusher-{dead_pid}").write_bytes(worker_state._PUSHER.pack(7))
    reader = MarkReader(state_dir, os.getpgid(0))
    marks = reader.read()
    assert (marks.busy, marks.idle, marks.held) == (0, 0, 2)
    assert list(state_dir.iterdir()) == []
    assert reader.read().held == 2  # remembered after the files are gone


def test_outside_a_supervised_cluster_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(worker_state.STATE_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    worker_state.mark_taken(2)
    assert list(tmp_path.iterdir()) == []


def marks(busy: int = 0, idle: int = 1, held: int = 0, last_change: float = 0.0) -> WorkerMarks:
    return WorkerMarks(busy=busy, idle=idle, held=held, last_change=last_change)


def test_work_waiting_with_a_free_worker_and_no_progress_is_a_stall():
    watch = StallWatch(stall_seconds=15)
    assert watch.observe(now=100, waiting_tasks=1, marks=marks()) == 0
    assert not watch.stalled(watch.observe(now=110, waiting_tasks=1, marks=marks()))
    stalled_for = watch.observe(now=115, waiting_tasks=1, marks=marks())
    assert stalled_for == 15 and watch.stalled(stalled_for)


def test_tasks_held_inside_the_cluster_count_as_waiting():
    watch = StallWatch(stall_seconds=15)
    watch.observe(now=100, waiting_tasks=0, marks=marks(held=4))
    assert watch.stalled(watch.observe(now=120, waiting_tasks=0, marks=marks(held=4)))


def test_progress_or_busy_workers_or_an_empty_queue_are_not_a_stall():
    watch = StallWatch(stall_seconds=15)
    watch.observe(now=100, waiting_tasks=3, marks=marks())
    assert watch.observe(now=130, waiting_tasks=3, marks=marks(last_change=125)) == 5  # a task started at 125
    assert watch.observe(now=200, waiting_tasks=3, marks=marks(busy=2, idle=0)) == 0  # all busy: waiting is normal
    assert watch.observe(now=300, waiting_tasks=0, marks=marks()) == 0
    assert watch.observe(now=310, waiting_tasks=1, marks=marks()) == 0  # the wait starts again


def test_no_live_worker_at_all_with_work_waiting_is_a_stall():
    watch = StallWatch(stall_seconds=15)
    watch.observe(now=0, waiting_tasks=2, marks=marks(idle=0))
    assert watch.stalled(watch.observe(now=16, waiting_tasks=2, marks=marks(idle=0)))


def test_a_task_the_pusher_cannot_read_is_not_counted_as_held(state_dir: Path, db):
    """The pusher fails a package with a bad signature (another SECRET_KEY signed it): no worker
    will ever start it, so it must not look like a task stuck in the cluster."""
    from core.brokers import CountingORM

    broker = CountingORM(list_key="helios-test")
    broker.enqueue("not a signed package")
    [(ack_id, _package)] = broker.dequeue()
    assert MarkReader(state_dir, os.getpgid(0)).read().held == 1
    broker.fail(ack_id)
    assert MarkReader(state_dir, os.getpgid(0)).read().held == 0
