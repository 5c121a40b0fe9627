"""`manage.py console` (what `make run` starts): first-run setup, web + worker, clean stop."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.cluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def console_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What `make run` gets on a fresh machine: the embedded SQLite database (of this test)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return env | {
        "SQLITE_PATH": str(tmp_path / "console.sqlite3"),
        "HELIOS_ADMIN_PASSWORD": "first-run-pw-123",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def test_console_starts_web_and_worker_prints_login_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    env = console_env(tmp_path)
    log_path = tmp_path / "console.log"
    with log_path.open("w") as log:
        console = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "manage.py"), "console", "--addr", f"127.0.0.1:{port}"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            login_page = ""
            while time.monotonic() < deadline and not login_page:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                        login_page = response.read().decode()
                except OSError:
                    time.sleep(0.3)
            assert "HELIOS" in login_page
            while time.monotonic() < deadline and not (
                "ready for work" in log_path.read_text() and "password:" in log_path.read_text()
            ):
                time.sleep(0.2)
            output = log_path.read_text()
            assert f"console:  http://127.0.0.1:{port}/admin/" in output
            assert "user:     admin" in output
            assert "password: first-run-pw-123" in output
            assert "created demo providers: aws-demo, gcp-demo, azure-demo" in output
            assert "ready for work" in output  # the qcluster worker runs
        finally:
            console.send_signal(signal.SIGTERM)
            assert console.wait(timeout=30) == 0
    output = log_path.read_text()
    assert "Stopping HELIOS…" in output and "unexpectedly" not in output
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
    again = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "manage.py"), "console", "--show-login"],  # where it last served
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "user:     admin" in again.stdout and "password: first-run-pw-123" in again.stdout
    assert f"console:  http://127.0.0.1:{port}/admin/" in again.stdout


def test_the_console_restarts_a_worker_whose_cluster_jammed_and_nothing_is_left_behind(tmp_path: Path):
    """`make run`: the idle workers are killed (django-q2's queue lock dies with one of them), the
    jammed cluster ends itself, the console starts a fresh worker, and the event is delivered."""
    from tests.e2e.test_worker_watchdog import alive, descendants, idle_workers, wait_for

    port = free_port()
    env = console_env(tmp_path, HELIOS_WORKER_STALL_SECONDS="3")
    manage = [sys.executable, str(PROJECT_ROOT / "manage.py")]
    log_path = tmp_path / "console.log"
    with log_path.open("w") as log:
        console = subprocess.Popen(
            [*manage, "console", "--addr", f"127.0.0.1:{port}"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: len(idle_workers(console.pid)) == 2, 60, "two idle workers")
            for pid in idle_workers(console.pid):
                os.kill(pid, signal.SIGKILL)
            published = subprocess.run(
                [*manage, "publish", "--provider", "gcp-demo", "--wait", "--timeout", "120"],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert published.returncode == 0, published.stdout + published.stderr
            assert "1 delivery: 1 succeeded" in published.stdout and "(attempt 1," in published.stdout
            assert "The worker stopped (it stalled and ended itself); starting a fresh one." in log_path.read_text()
            everything = descendants(console.pid)
        finally:
            console.send_signal(signal.SIGTERM)
            assert console.wait(timeout=60) == 0
    wait_for(lambda: alive(everything) == [], 10, f"left behind: {alive(everything)}")
