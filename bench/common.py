"""What every benchmark needs: a PostgreSQL database for Django, and the memory of processes."""

import os
import subprocess
import sys
from pathlib import Path


def setup_django(database_url: str, **env: str) -> None:
    """Point Django at the benchmark database (created if missing) with extra settings, migrate."""
    import psycopg

    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "helios_site.settings",
            "LOG_LEVEL": "WARNING",
            "DEBUG": os.environ.get("DEBUG", "true"),  # as measured so far (the web process sets its own)
            # The stand-ins listen on loopback, which a deployment must allow by name.
            "HELIOS_ALLOWED_ENDPOINTS": os.environ.get("HELIOS_ALLOWED_ENDPOINTS", "127.0.0.1,localhost"),
            **env,
        }
    )
    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        children = Path(f"/proc/{parent}/task/{parent}/children")
        kids = [int(k) for k in children.read_text().split()] if children.exists() else []
        found += kids
        frontier += kids
    return found


def process_title(pid: int) -> str:
    """A process's title (its command line, which setproctitle rewrites); "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def memory_kb(pids: list[int], field: str) -> dict[int, int]:
    """A /proc/<pid>/status memory field (VmRSS, VmHWM) per live process, in kB."""
    usage = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    usage[pid] = int(line.split()[1])
        except OSError:
            continue
    return usage


def start_worker(root: Path, env: dict[str, str]) -> "subprocess.Popen":
    """A `manage.py worker` process (a supervised qcluster, as in production) in its own session, quiet."""
    return subprocess.Popen(
        [sys.executable, str(root / "manage.py"), "worker"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_processes(processes: list["subprocess.Popen"]) -> None:
    """SIGTERM each, then wait up to 30 s each before SIGKILL."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def save_in_production(configs: list) -> list:
    """Validate and save provider configs in production mode (they send to the stand-ins)."""
    for config in configs:
        config.mode = "production"
        config.full_clean()
        config.save()
    return configs
