"""`manage.py console`: the one command that brings HELIOS up on this machine.

Migrates, creates the first-run demo providers and admin user, then runs the web server
and a supervised worker (`manage.py worker`) together until interrupted, printing where to log
in. A worker that ends (a jammed cluster ends itself) is started again.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from helios_site.bootstrap import ensure_admin_user, first_login, record_served_address, served_address
from helios_site.worker_supervisor import EXIT_STALLED
from providers.startup import bootstrap_demo_providers


def wait_until_serving(addr: str, children: list[subprocess.Popen], timeout: float = 30.0) -> None:
    """Until the web server answers /healthz (or a child exits, or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        try:
            with urllib.request.urlopen(f"http://{addr}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)


#: Where the console serves unless told otherwise (--addr, $HELIOS_ADDR).
DEFAULT_ADDR = "127.0.0.1:8000"
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 300.0


class WorkerProcess:
    """The console's `manage.py worker` child, restarted when it ends (at most RESTART_LIMIT
    times in RESTART_WINDOW_SECONDS)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.starts: list[float] = []
        self.start()

    def start(self) -> None:
        """Start (or start again) the worker."""
        self.starts.append(time.monotonic())
        self.process = subprocess.Popen(self.command)

    def may_restart(self) -> bool:
        """Whether another restart stays within the limit."""
        recent = [t for t in self.starts if time.monotonic() - t < RESTART_WINDOW_SECONDS]
        return len(recent) <= RESTART_LIMIT

    def stop(self) -> None:
        """SIGTERM: the worker stops its cluster, whole, within HELIOS_WORKER_STOP_SECONDS."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=settings.HELIOS_WORKER_STOP_SECONDS + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """Treat SIGTERM like Ctrl-C so the children are stopped too."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start the HELIOS console (web server + worker) after migrating and first-run setup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr",
            help="host:port for the web server (default $HELIOS_ADDR or 127.0.0.1:8000; with --show-login, "
            "where the console last served).",
        )
        parser.add_argument(
            "--show-login",
            action="store_true",
            help="Print where and as whom to log in (the first-start password while unchanged), then exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        addr = options["addr"] or os.environ.get("HELIOS_ADDR")
        if options["show_login"]:
            login = first_login()
            self.banner(addr or served_address() or DEFAULT_ADDR, login.username, login.password, [], running=False)
            return
        addr = addr or DEFAULT_ADDR
        call_command("migrate", interactive=False, verbosity=0)
        created = bootstrap_demo_providers()
        login = ensure_admin_user()
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        web = subprocess.Popen([*manage, "runserver", addr, "--noreload", "--insecure"])
        worker = WorkerProcess([*manage, "worker"])
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        failed = False
        try:
            # The banner comes last, once the web server answers, so start-up logs do not bury it.
            wait_until_serving(addr, [web, worker.process])
            record_served_address(addr)
            self.banner(addr, login.username, login.password, [c.name for c in created])
            while web.poll() is None:
                if (code := worker.process.poll()) is not None and not self.restart(worker, code):
                    failed = True
                    break
                time.sleep(0.5)
            else:
                failed = web.returncode not in (0, -signal.SIGINT, -signal.SIGTERM)
                if failed:
                    self.stderr.write(f"The web server stopped unexpectedly (exit {web.returncode}); stopping HELIOS.")
        except KeyboardInterrupt:
            pass
        self.stdout.write("Stopping HELIOS…")
        if web.poll() is None:
            web.terminate()
        worker.stop()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()
        if failed:
            raise SystemExit(1)

    def restart(self, worker: "WorkerProcess", code: int) -> bool:
        """Start a fresh worker after one ended (a stalled cluster ends itself with EXIT_STALLED);
        False when it keeps ending (more than RESTART_LIMIT times in RESTART_WINDOW_SECONDS)."""
        why = "it stalled and ended itself" if code == EXIT_STALLED else f"exit {code}"
        if not worker.may_restart():
            self.stderr.write(
                f"The worker stopped ({why}) {RESTART_LIMIT} times within a few minutes; stopping HELIOS."
            )
            return False
        self.stderr.write(f"The worker stopped ({why}); starting a fresh one.")
        worker.start()
        return True

    def banner(self, addr: str, username: str, password: str | None, created: list[str], running: bool = True) -> None:
        password_line = (
            f"password: {password}   (until you change it; `manage.py console --show-login` prints this again)"
            if password
            else f"password: changed since the first start (reset: python manage.py changepassword {username})"
        )
        lines = [
            "",
            "HELIOS is running (web server + worker). Press Ctrl-C to stop." if running else "HELIOS console login",
            f"  console:  http://{addr}/{settings.HELIOS_ADMIN_URL}",
            f"  user:     {username}",
            f"  {password_line}",
        ]
        if created:
            lines.append(f"  created demo providers: {', '.join(created)}")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)) + "\n")
