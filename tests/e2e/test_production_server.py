"""The production web process: gunicorn with DEBUG off, whitenoise serving collected static files,
security headers, and /readyz failing in words when PostgreSQL is down."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.heartbeat import beat
from tests.conftest import PROJECT_ROOT, subprocess_env
from tests.standins import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def production_env(static_root: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(
        DEBUG="false",
        SECRET_KEY="a-test-secret-key-that-is-long-and-random-enough-for-the-check-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        HELIOS_SSL_REDIRECT="false",  # the test speaks plain HTTP; a proxy would terminate TLS
        STATIC_ROOT=str(static_root),
        **extra,
    )


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT_ROOT,
        env=production_env(root),
        check=True,
        timeout=120,
    )
    return root


@contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "helios_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_gunicorn_serves_the_console_hardened_with_static_files(static_root, demo_providers):
    beat()
    with gunicorn(production_env(static_root)) as url:
        status, headers, body = get(f"{url}/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, headers, body = get(f"{url}/admin/login/", **{"X-Forwarded-Proto": "https"})
        assert status == 200
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
        status, headers, body = get(f"{url}/static/{manifest['helios/console.css']}")
        assert status == 200 and b".helios-badge" in body
        assert "immutable" in headers["Cache-Control"]


def test_readyz_fails_in_words_when_postgresql_is_down(static_root):
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/helios"
    with gunicorn(production_env(static_root, DATABASE_URL=dead)) as url:
        assert get(f"{url}/healthz")[0] == 200
        status, _, body = get(f"{url}/readyz")
        assert status == 503
        checks = json.loads(body)["checks"]
        assert checks["database"] == {"ok": False, "detail": "the database does not answer (OperationalError)"}
        assert checks["broker"]["ok"] is False


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's web command as a platform runs it (one worker, this port)."""
    line = next(x for x in (PROJECT_ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    words = line.removeprefix("web:").replace("${PORT:-8000}", str(port)).replace("${WEB_CONCURRENCY:-3}", "1")
    return [sys.executable, "-m", *words.split()]


def test_a_receiver_token_in_the_query_string_reaches_no_log_stream(
    static_root, make_provider, make_receiver, tmp_path
):
    """The real gunicorn from the Procfile: its access log, its error log and Django's request log
    (JSON lines, `request` extra included) never carry the token, although the token's variable has
    no secret-sounding name (the query parameter's name is what gives it away)."""
    token = "Qz7-not-in-any-log-9f2b1c4d"
    config = make_provider("grid", "azure_eventgrid")
    make_receiver(config, secret_env="GRID_PUSH_VALUE")
    port = free_port()
    out, err = (tmp_path / "stdout.log").open("w+"), (tmp_path / "stderr.log").open("w+")
    env = production_env(static_root, GRID_PUSH_VALUE=token, LOG_FORMAT="json", LOG_LEVEL="INFO")
    process = subprocess.Popen(procfile_web_command(port), cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not (_listening(port) and get(f"{url}/healthz")[0] == 200):
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        target = f"{url}/receive/eventgrid/{config.pk}/?token={token}&sig={token}"
        assert _post(target, b'[{"id": "e-1", "eventType": "T"}]') == 200  # access log
        assert _post(target, b"[{not json") == 400  # django.request warning with the request
        assert _post(f"{url}/receive/eventgrid/{config.pk}/?token={token}x", b"[]") == 403
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:  # gunicorn's error log
            raw.sendall(f"POST /receive/?token={token} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".encode())
            raw.recv(1024)
    finally:
        process.terminate()
        process.wait(timeout=20)
    out.seek(0)
    err.seek(0)
    logged = out.read() + err.read()
    assert "/receive/eventgrid/" in logged and "Bad Request" in logged  # the lines are there …
    assert "token=[redacted]" in logged
    assert token not in logged  # … without the token


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
