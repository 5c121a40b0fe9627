"""HELIOS settings: one module, driven by the environment (django-environ).

Values come from the process environment, then from `.env` at the project root when
present. `.env.example` documents every variable. The embedded default (no variables
set) is SQLite with the django-q2 ORM broker and every provider in demo mode.
"""

import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def number(name: str, default: float, *, minimum: float, maximum: float | None = None, whole: bool = True) -> float:
    """A numeric setting from the environment: a bad value or one out of range names the variable."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise environ.ImproperlyConfigured(f"{name} must be {kind}, not {raw!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise environ.ImproperlyConfigured(f"{name} must be {bounds}; it is {value:g}.")
    return value


# Off unless asked for: `make run` and `make test` turn it on; production never does.
DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "helios-development-only-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
#: What the committed example files hold in place of a secret.
PLACEHOLDER = "replace-with-"


def refuse_weak_secret(name: str, value: str, *, min_length: int) -> None:
    """Outside development, a placeholder or a short secret stops the process, in words."""
    if DEBUG or not value:
        return
    if PLACEHOLDER in value or value == _DEV_SECRET_KEY:
        raise environ.ImproperlyConfigured(
            f"{name} still holds the example's placeholder: set a random value from your secret store."
        )
    if len(value) < min_length or len(set(value)) < 5:
        raise environ.ImproperlyConfigured(
            f"{name} is too weak: use at least {min_length} random characters "
            f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )


refuse_weak_secret("SECRET_KEY", SECRET_KEY, min_length=50)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "helios_site.admin_config.HeliosAdminConfig",  # django.contrib.admin with HELIOS's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "csp",
    "core",
    "providers",
    "events",
    # The HTTP API (django-ninja; "ninja" serves its docs page's assets from HELIOS's static files).
    "ninja",
    "gateway",
    # The project: settings, URLs, health, metrics, the console and roles commands.
    "helios_site",
]

MIDDLEWARE = [
    "core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: locks out repeated failed logins (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helios_site.urls"
WSGI_APPLICATION = "helios_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode with IMMEDIATE transactions (writers queue on the
# busy timeout instead of failing with "database is locked"), one persistent connection
# per thread. DATABASE_URL=postgres://... selects PostgreSQL through psycopg 3.
SQLITE_PATH = env.path("SQLITE_PATH", default=BASE_DIR / "db.sqlite3")
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": number("SQLITE_BUSY_TIMEOUT_SECONDS", 20, minimum=1),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file, so a real qcluster process can share it with tests.
    _db["TEST"] = {"NAME": str(Path(_db["NAME"]).with_name("test_" + Path(_db["NAME"]).name))}
else:
    # A persistent, health-checked connection: django-q2's ORM broker polls several
    # times a second and reconnecting each time was measured ~10x slower.
    _db.setdefault("OPTIONS", {})
    # Behind PgBouncer in transaction mode a cursor cannot outlive its transaction: Django's
    # `.iterator()` must not use server-side cursors (docs/scaling.md).
    _db["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DATABASE_BEHIND_PGBOUNCER", default=False)
_db["CONN_MAX_AGE"] = number("CONN_MAX_AGE", 600, minimum=0)
_db["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- django-q2 --------------------------------------------------------------------------
# The queue is only a doorbell: a task says "look at the database now" for one provider
# config. HELIOS records attempts and owns retries; django-q2 runs each task once
# (max_attempts=1, failures acknowledged). `retry` exceeds `timeout` so a running task is
# never handed out twice; a task lost with its worker is covered by the sweeper.
Q_TASK_TIMEOUT_SECONDS = number("Q_TASK_TIMEOUT_SECONDS", 120, minimum=1)
Q_CLUSTER = {
    "name": "helios",
    "orm": "default",
    "workers": number("Q_WORKERS", 2, minimum=1, maximum=64),
    "timeout": Q_TASK_TIMEOUT_SECONDS,
    "retry": Q_TASK_TIMEOUT_SECONDS + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": number("Q_POLL_SECONDS", 0.1, minimum=0.01, maximum=60, whole=False),
    "save_limit": 200,
    "label": "Task queue",
    # django-q2's ORM broker, counting what a supervised cluster's pusher takes (core.brokers).
    "broker_class": "core.brokers.CountingORM",
}
# The broker: "orm" (default: the task row commits with the event, at-least-once with receipts)
# or "redis" (faster hand-off, no receipts: a task lost with its worker is recovered by the
# sweeper from the database). See docs/delivery-engine.md.
Q_BROKER = env.str("Q_BROKER", default="orm")
if Q_BROKER == "redis":
    del Q_CLUSTER["orm"]
    Q_CLUSTER["broker_class"] = "core.brokers.CountingRedis"
    Q_CLUSTER["redis"] = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
elif Q_BROKER != "orm":
    raise environ.ImproperlyConfigured("Q_BROKER must be orm or redis.")

# --- Auth, i18n, static ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# Behind a load balancer or reverse proxy (the default when DEBUG is off): trust its
# X-Forwarded-Proto, and take the client's address from X-Forwarded-For behind HELIOS_PROXY_COUNT
# proxies (1 by default behind one; 0 when gunicorn faces clients directly). See
# core/client_address.py and docs/operations.md.
HELIOS_BEHIND_PROXY = env.bool("HELIOS_BEHIND_PROXY", default=not DEBUG)
HELIOS_PROXY_COUNT = number("HELIOS_PROXY_COUNT", 1 if HELIOS_BEHIND_PROXY else 0, minimum=0, maximum=10)
# django-axes first: failed logins are counted per user name and client address, and a lock-out
# refuses even the right password from that address until the cool-off ends (HELIOS_LOGIN_* below).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = number("HELIOS_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = number("HELIOS_LOGIN_LOCKOUT_MINUTES", 15, minimum=0, whole=False) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_VERBOSE = False

# The console's URL prefix (e.g. "ops-7f3a/" to keep it off the usual scanners' paths).
HELIOS_ADMIN_URL = env.str("HELIOS_ADMIN_URL", default="admin/")
if not HELIOS_ADMIN_URL.endswith("/") or HELIOS_ADMIN_URL.startswith("/"):
    raise environ.ImproperlyConfigured("HELIOS_ADMIN_URL must look like 'admin/' (no leading slash, a trailing one).")

# --- Sessions, cookies, headers ------------------------------------------------------------
# A short console session that slides with activity; secure cookies and HSTS whenever DEBUG is
# off (the production setting). HTTPS is terminated by the load balancer or gunicorn.
SESSION_COOKIE_AGE = number("HELIOS_SESSION_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("HELIOS_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("HELIOS_SSL_REDIRECT", default=not DEBUG)
# Load-balancer health checks and Prometheus may speak plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = number("HELIOS_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HELIOS_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("HELIOS_HSTS_PRELOAD", default=True)
if HELIOS_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every console page works under this policy: no inline script or style, nothing from elsewhere
# (checked by a browser test that fails on any CSP violation).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
# Timestamps to the second everywhere (helios_site/formats/en/formats.py).
FORMAT_MODULE_PATH = ["helios_site.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# The compose form must carry a Pub/Sub-sized payload (10 MB) plus its form fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = number("DATA_UPLOAD_MAX_MEMORY_SIZE", 12 * 1024 * 1024, minimum=1024)

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# In production (DEBUG off) whitenoise serves static files from the web process: `collectstatic`'s
# compressed, content-hashed copies, cached forever. With DEBUG, runserver serves them itself.
if not DEBUG:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- HELIOS -----------------------------------------------------------------------------
# The deployment-wide switch: a provider config sends for real only when this is
# "production", its own mode is production and its credentials resolve.
HELIOS_DEPLOYMENT_MODE = env.str("HELIOS_DEPLOYMENT_MODE", default="demo")
if HELIOS_DEPLOYMENT_MODE not in ("demo", "production"):
    raise environ.ImproperlyConfigured("HELIOS_DEPLOYMENT_MODE must be demo or production.")
# Hosts besides the clouds' own that provider endpoints may name (and that then get the traffic
# and credentials): stand-ins, emulators, private endpoints. `host`, `host:port`, `*.suffix` or a
# CIDR range; link-local and metadata addresses are refused even here (providers/endpoints.py).
HELIOS_ALLOWED_ENDPOINTS = env.list("HELIOS_ALLOWED_ENDPOINTS", default=[])
# Bound on every SDK call (and on the SDKs' own retries), so one task never hangs.
HELIOS_PROVIDER_TIMEOUT_SECONDS = number("HELIOS_PROVIDER_TIMEOUT_SECONDS", 10.0, minimum=0.1, maximum=600, whole=False)
# Credential discovery must not probe cloud instance-metadata servers unless the deployment
# runs on that cloud and says so (set AWS_EC2_METADATA_DISABLED=false / NO_GCE_CHECK=false).
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("NO_GCE_CHECK", "true")
HELIOS_SEND_BATCH_SIZE = number("HELIOS_SEND_BATCH_SIZE", 300, minimum=1, maximum=10000)
HELIOS_LEASE_SECONDS = number("HELIOS_LEASE_SECONDS", 60, minimum=1)
# /readyz fails when no worker has beaten for this long (the sweeper beats every minute).
HELIOS_HEARTBEAT_STALE_SECONDS = number("HELIOS_HEARTBEAT_STALE_SECONDS", 180, minimum=1)
# `manage.py worker`: a cluster whose queued tasks wait this long while none of its workers starts
# or finishes one (and one is free) has jammed; it is ended whole for its supervisor to restart.
HELIOS_WORKER_STALL_SECONDS = number("HELIOS_WORKER_STALL_SECONDS", 15, minimum=1, whole=False)
# A stop (SIGTERM) waits this long for django-q2's own shutdown, then kills what is left.
HELIOS_WORKER_STOP_SECONDS = number("HELIOS_WORKER_STOP_SECONDS", 20, minimum=1, maximum=28, whole=False)
# The operations home refreshes its live section this often while the tab is visible.
HELIOS_HOME_REFRESH_SECONDS = number("HELIOS_HOME_REFRESH_SECONDS", 10, minimum=1, maximum=3600)
# The event page and attempt inspection link traces here: a URL with {trace_id} (and, if the UI
# opens a span, {span_id}) (Jaeger, Tempo, Honeycomb…), e.g.
# https://jaeger.example.com/trace/{trace_id}. Tracing itself is set by the OTEL_* variables.
HELIOS_TRACE_URL = env.str("HELIOS_TRACE_URL", default="")
if HELIOS_TRACE_URL and not HELIOS_TRACE_URL.startswith(("https://", "http://")):
    raise environ.ImproperlyConfigured("HELIOS_TRACE_URL must be an http(s) URL with {trace_id} in it.")
# /metrics: with a token, only `Authorization: Bearer <token>`; without one, only these addresses.
HELIOS_METRICS_TOKEN = env.str("HELIOS_METRICS_TOKEN", default="")
refuse_weak_secret("HELIOS_METRICS_TOKEN", HELIOS_METRICS_TOKEN, min_length=16)
HELIOS_METRICS_ALLOWED_IPS = env.list("HELIOS_METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Retention (days; 0 keeps forever), purged daily in batches: see events/retention.py.
HELIOS_RETENTION = {
    "event_days": number("HELIOS_RETENTION_EVENT_DAYS", 90, minimum=0),
    "attempt_days": number("HELIOS_RETENTION_ATTEMPT_DAYS", 30, minimum=0),
    "receipt_days": number("HELIOS_RETENTION_RECEIPT_DAYS", 30, minimum=0),
    "report_days": number("HELIOS_RETENTION_REPORT_DAYS", 90, minimum=0),
    "stats_days": number("HELIOS_RETENTION_STATS_DAYS", 400, minimum=0),
    "batch_size": number("HELIOS_RETENTION_BATCH_SIZE", 1000, minimum=1),
}
# Bulk send: the most events, and the largest file, one upload may hold.
# The API: the largest request body and the most events in one request (a batch).
HELIOS_API_MAX_BODY_BYTES = number("HELIOS_API_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)
# Wrong API keys: past this many in a minute from one address (or for one key prefix), further
# wrong keys from there get 429 for HELIOS_API_AUTH_BLOCK_SECONDS (gateway/throttle.py).
HELIOS_API_AUTH_FAILURE_LIMIT = number("HELIOS_API_AUTH_FAILURE_LIMIT", 20, minimum=1)
HELIOS_API_AUTH_BLOCK_SECONDS = number("HELIOS_API_AUTH_BLOCK_SECONDS", 60, minimum=1)
HELIOS_API_MAX_BATCH_EVENTS = number("HELIOS_API_MAX_BATCH_EVENTS", 1000, minimum=1, maximum=10_000)
# How long an Idempotency-Key's first answer is kept (then the key may be used again).
HELIOS_API_IDEMPOTENCY_HOURS = number("HELIOS_API_IDEMPOTENCY_HOURS", 24, minimum=1)
HELIOS_BULK_MAX_EVENTS = number("HELIOS_BULK_MAX_EVENTS", 50_000, minimum=1)
HELIOS_BULK_MAX_BYTES = number("HELIOS_BULK_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)

# --- Logging ------------------------------------------------------------------------------
# LOG_FORMAT=json (the default when DEBUG is off): one JSON object per line with time, level,
# logger, message, and the request id / event id / delivery id / provider bound to the work.
# Every handler redacts secrets, whatever a caller logs (core.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise environ.ImproperlyConfigured("LOG_FORMAT must be json or plain.")
_LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "core.logs.ContextFilter"},
        "redact": {"()": "core.logs.RedactSecrets"},
    },
    "formatters": {
        "plain": {"()": "core.logs.PlainFormatter", "format": _LOG_FIELDS},
        "json": {
            "()": "core.logs.JsonFormatter",
            "fmt": _LOG_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "redact"],
        },
        "json_lines": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Messages on this logger are already one JSON object each (merged into the line in JSON mode).
        "helios.json": {"handlers": ["json_lines"], "level": "INFO", "propagate": False},
        # azure-eventgrid 4.22.1 warns, per event, that the per-send pipeline options (retry,
        # timeouts: its basic-topic constructor drops them) are not CloudEvent attributes.
        "azure.eventgrid._legacy._generated._serialization": {"level": "ERROR"},
    },
}
