"""`manage.py console`: the one command that brings HELIOS up on this machine.

Migrates, creates the first-run demo providers and admin user, then runs the web server
and a qcluster worker together until interrupted, printing where to log in.
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

from helios_site.bootstrap import ensure_admin_user, first_login
from providers.services import bootstrap_demo_providers


def wait_until_serving(addr: str, children: list[subprocess.Popen], timeout: float = 30.0) -> None:
    """Until the web server answers /healthz (or a child exits, or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        try:
            with urllib.request.urlopen(f"http://{addr}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """Treat SIGTERM like Ctrl-C so the children are stopped too."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start the HELIOS console (web server + worker) after migrating and first-run setup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr",
            default=os.environ.get("HELIOS_ADDR", "127.0.0.1:8000"),
            help="host:port for the web server (default 127.0.0.1:8000 or $HELIOS_ADDR).",
        )
        parser.add_argument(
            "--show-login",
            action="store_true",
            help="Print where and as whom to log in (the first-start password while unchanged), then exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["show_login"]:
            login = first_login()
            self.banner(options["addr"], login.username, login.password, [], running=False)
            return
        call_command("migrate", interactive=False, verbosity=0)
        created = bootstrap_demo_providers()
        login = ensure_admin_user()
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        names = ("web server", "worker")
        children = [
            subprocess.Popen([*manage, "runserver", options["addr"], "--noreload", "--insecure"]),
            subprocess.Popen([*manage, "qcluster"]),
        ]
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            # The banner comes last, once the web server answers, so start-up logs do not bury it.
            wait_until_serving(options["addr"], children)
            self.banner(options["addr"], login.username, login.password, [c.name for c in created])
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            stopped = next(i for i, child in enumerate(children) if child.poll() is not None)
            code = children[stopped].returncode
            if code in (0, -signal.SIGINT, -signal.SIGTERM):
                self.stdout.write("Stopping HELIOS…")
            else:
                self.stderr.write(f"The {names[stopped]} stopped unexpectedly (exit {code}); stopping HELIOS.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping HELIOS…")
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()  # SIGTERM: both runserver and qcluster stop on it
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        if any(child.returncode not in (0, -signal.SIGINT, -signal.SIGTERM) for child in children):
            raise SystemExit(1)

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
