"""What the benchmarks share: a PostgreSQL database for Django, the memory of processes, provider
configs aimed at the stand-ins, and gunicorn as the Procfile runs it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The table of bench/ceiling_wsgi.py's durable floor (bench/api_ingest.py makes it).
FLOOR_TABLE = "bench_durable_floor"


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


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user and system) the live processes used so far (/proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine spent busy so far, all cores (/proc/stat: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


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


def publish_to(specs: list, configs: list, *, ring: bool = True) -> list:
    """Publish the specs to the configs as one request of the publish service, with a standing
    production grant (the benches' production configs send to stand-ins); the events created."""
    from dataclasses import replace

    from events.services.publishing import PublishRequest, publish
    from providers.production import ProductionGrant

    request = PublishRequest(
        events=[replace(spec, providers=tuple(configs)) for spec in specs],
        grant=ProductionGrant.standing("the bench", held=True),
    )
    return [published.event for published in publish(request, ring=ring)]


def standin_configs(moto, bus: str, standin, sink, *, mode: str) -> dict:
    """One provider config per kind sending to the test suite's stand-ins (credentials from BENCH_*)."""
    from providers.models import ProviderConfig

    shared = {"mode": mode, "demo_latency_ms": 0, "circuit_failure_threshold": 1000}
    configs = {
        "aws_eventbridge": ProviderConfig(
            name=f"aws-{mode}",
            kind="aws_eventbridge",
            aws_region="eu-west-1",
            aws_event_bus=bus,
            aws_source="com.bench",
            aws_endpoint_url=moto.url,
            credentials_env_prefix="BENCH_",
            **shared,
        ),
        "gcp_pubsub": ProviderConfig(
            name=f"gcp-{mode}",
            kind="gcp_pubsub",
            gcp_project="helios-bench",
            gcp_topic="orders",
            gcp_emulator_host=standin.host,
            **shared,
        ),
        "azure_eventgrid": ProviderConfig(
            name=f"azure-{mode}",
            kind="azure_eventgrid",
            azure_endpoint=sink.endpoint,
            credentials_env_prefix="BENCH_",
            **shared,
        ),
    }
    for config in configs.values():
        config.full_clean()
        config.save()
    return configs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """gunicorn as the Procfile runs it (its workers and timeout), serving `app`."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "3"),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")
