"""Settings, read from the environment.

Nothing set gives the embedded default: SQLite, django-q2's ORM broker, a
local media folder and the built-in simulator as the provider. DATABASE_URL and
REDIS_URL switch to the team deployment. A value we cannot read stops the
process at start-up instead of being half-understood later: every such problem
is noted in PROBLEMS as this file is read, and the end of the file raises one
ImproperlyConfigured naming them all, one a line (manage.py and studio/wsgi.py
print it as a short message, without a traceback).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DAILIES_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Every setting we could not read, in the order found. Reading goes on past each one (with the
# default in its place), so that one start names them all instead of one per try.
PROBLEMS: list[str] = []


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    PROBLEMS.append(f"{name}={raw!r} is not a yes/no value (use 1/0, true/false).")
    return default


def env_number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        PROBLEMS.append(f"{name}={raw!r} is not a number.")
        return default
    if value < minimum:
        PROBLEMS.append(f"{name}={raw!r} must be at least {minimum:g}.")
        return default
    return value


def database_from_url(url: str) -> dict:
    """The subset of database URLs we support, parsed strictly."""
    parts = urlparse(url)
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL names no database (postgres://user@host:5432/NAME).")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"DATABASE_URL has a bad port: {url!r}") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ImproperlyConfigured("DATABASE_URL=sqlite:///PATH needs a file path.")
        return sqlite_database(Path(path))
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite:///.")


def sqlite_database(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Web and worker processes write at once: wait for the lock instead of
        # failing, take it up front (no upgrade deadlocks) and let readers
        # proceed alongside the writer.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # A file (threads and the live server share it), one per test process so
        # parallel runs never share a database.
        "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
    }


def kept_secret_key(path: Path) -> str:
    """This machine's own secret key: made once (mode 0600) on first start, read back on every start after.

    Web server and worker start together on a first `make run`: the key is written under another name and
    linked into place, so whichever links first wins and every process reads that one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(50) + "\n")
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(draft)
    key = path.read_text().strip()
    if len(key) < 50:
        raise ImproperlyConfigured(f"{path} holds no usable secret key; delete it to have a new one made.")
    return key


# The embedded default: no DATABASE_URL, so SQLite on this machine (`make run`).
EMBEDDED_DEFAULT = not os.environ.get("DATABASE_URL")
# Off unless asked for (DEBUG=1): its error pages show settings, requests and local variables.
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED_DEFAULT:
        # Every web server and worker must share one: it signs sessions and encrypts the provider keys.
        PROBLEMS.append("SECRET_KEY must be set in a team deployment (DATABASE_URL is set).")
    else:
        try:
            SECRET_KEY = kept_secret_key(VAR_DIR / "secret_key")
        except ImproperlyConfigured as problem:
            PROBLEMS.append(str(problem))

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(env_number("PORT", 8000, minimum=1))
# Where this instance can reach itself; the simulator's accounts use it, and it
# is the public address given to routes that fetch images by URL.
SITE_URL = os.environ.get("DAILIES_SITE_URL", f"http://{HOST}:{PORT}").rstrip("/")
# The address providers on the internet can reach (callbacks, images fetched
# by URL). Empty: only the simulator can call back or fetch images.
PUBLIC_URL = os.environ.get("DAILIES_PUBLIC_URL", "").rstrip("/")
# An input image's `/i/<token>` link stays open this long after the last task using it ended.
IMAGE_LINK_MARGIN = timedelta(minutes=env_number("IMAGE_LINK_MARGIN_MINUTES", 60, minimum=1))

if "ALLOWED_HOSTS" in os.environ:
    ALLOWED_HOSTS = [h.strip() for h in os.environ["ALLOWED_HOSTS"].split(",") if h.strip()]
elif EMBEDDED_DEFAULT:
    # This machine's own names and the address `make run` listens on.
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", f"[{HOST.strip('[]')}]" if ":" in HOST else HOST]
else:
    ALLOWED_HOSTS = []
    PROBLEMS.append("ALLOWED_HOSTS must be set in a team deployment (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Django's own widget templates, which FORM_RENDERER (studio/forms.py) finds through TEMPLATES.
    "django.forms",
    "django_htmx",
    "template_partials",
    "django_q",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp",
    # Sign-in lockout after repeated failures (AXES_* below).
    "axes",
    "studio.projects",
    "studio.prompts",
    "studio.providers",
    "studio.money",
    "studio.tasks",
    "studio.spend",
    "studio.review",
    "studio.clips",
    "studio.images",
    "studio.simulator",
    "studio.limits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studio.urls"
FORM_RENDERER = "studio.forms.StudioFormRenderer"
WSGI_APPLICATION = "studio.wsgi.application"

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
    }
]

if os.environ.get("DATABASE_URL"):
    try:
        DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
    except ImproperlyConfigured as problem:
        PROBLEMS.append(str(problem))
        DATABASES = {}
else:
    DATABASES = {"default": sqlite_database(VAR_DIR / "dailies.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    PROBLEMS.append(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL!r}.")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The queue only carries "look at task N now" hints. The database is the source
# of truth, so a lost message (Redis keeps no receipts) delays work, never loses
# it, and no message is retried by the queue itself: a retried submit would be
# a second bill.
#
# Three clusters share one name (django-q2's signing salt) and each reads a queue
# of its own (django-q2's ALT_CLUSTERS), so a backlog in one never delays another:
# the main one sends submits, "<name>-archive" brings finished clips home and
# "<name>-tracker" runs the tracking loop. `manage.py qcluster` runs the one that
# Q_CLUSTER_NAME names: dailies (the default), dailies-archive or dailies-tracker.
Q_CLUSTER_RUNNING = os.environ.get("Q_CLUSTER_NAME", "dailies")
QUEUE_NAME = re.sub(r"-(archive|tracker)$", "", Q_CLUSTER_RUNNING)
ARCHIVE_CLUSTER = f"{QUEUE_NAME}-archive"
TRACKER_CLUSTER = f"{QUEUE_NAME}-tracker"
# One run of the tracking loop; each tracker worker runs one run after another.
TRACKER_RUN_S = 300
# How much an archive worker lowers its CPU priority (`nice`, 0–19): tracking loops and submits go first.
ARCHIVE_NICENESS = min(19, int(env_number("ARCHIVE_NICENESS", 5, minimum=0)))
# A submit or archive message not taken up this long after it was queued is
# queued again: generous, so a busy queue is never flooded with copies.
LOST_MESSAGE_AFTER_S = env_number("LOST_MESSAGE_AFTER_S", 300, minimum=10)
Q_CLUSTER = {
    "name": QUEUE_NAME,
    "workers": int(env_number("Q_WORKERS", 4, minimum=2)),
    "timeout": 900,
    "retry": 1200,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.2,
    "label": "Task queue",
    "ALT_CLUSTERS": {
        # An archive mostly waits on the provider's download: six at once keep up with a burst's renders
        # finishing (each costs ~40 ms of CPU: probe, poster, hash), where three fell behind.
        ARCHIVE_CLUSTER: {"workers": int(env_number("Q_ARCHIVE_WORKERS", 6, minimum=1)), "label": "Archive queue"},
        TRACKER_CLUSTER: {
            # Each worker runs the tracking loop from the moment it starts; one follows thousands of tasks.
            "workers": int(env_number("TRACKER_WORKERS", 1, minimum=1)),
            "label": "Tracker",
        },
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in lockout (django-axes), on the login page and the admin's: after AXES_FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is refused with 429, right password or not,
# until AXES_COOLOFF_TIME after its last failure. The pair, not either alone: by username alone anyone
# anywhere could lock a colleague out on purpose; by address alone one person mistyping would lock out
# everyone behind the studio's shared office address. Counted in the database, so every web server
# sees the same count (the cache handler would need Redis everywhere; the embedded default has none).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(env_number("LOGIN_FAILURE_LIMIT", 5, minimum=1))
AXES_COOLOFF_TIME = timedelta(minutes=env_number("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A try while locked out is refused without counting, so the wait the lockout page names stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Keep failures only (until their cool-off ends), not a row per successful sign-in forever.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "studio.limits.tries.sign_in_locked_out"
AXES_CLIENT_IP_CALLABLE = "studio.limits.tries.client_address"
# How many proxies (load balancers) in front of the web servers append the client's address to
# X-Forwarded-For; 0 (none) uses the connection's own address. Sign-in lockouts and the invitation
# link limit count per client address, so behind a proxy this must say so.
TRUSTED_PROXY_COUNT = int(env_number("TRUSTED_PROXY_COUNT", 0))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]


def media_storage(environ) -> dict:
    """STORAGES["default"]: the local MEDIA_ROOT, or S3-compatible object storage through django-storages.

    STORAGE_URL=s3://ACCESS_KEY:SECRET_KEY@HOST[:PORT]/BUCKET[/PREFIX][?region=R&secure=0|1&expire=SECONDS]
    (keys percent-encoded; https unless secure=0; no HOST means Amazon S3 itself), or the usual
    AWS_STORAGE_BUCKET_NAME with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT_URL,
    AWS_S3_REGION_NAME, AWS_LOCATION and AWS_QUERYSTRING_EXPIRE.
    """
    url, bucket = environ.get("STORAGE_URL", ""), environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if url and bucket:
        raise ImproperlyConfigured("Set STORAGE_URL or AWS_STORAGE_BUCKET_NAME, not both.")
    if url:
        parts = urlparse(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        bucket, _, prefix = unquote(parts.path).strip("/").partition("/")
        if parts.scheme != "s3" or not bucket or set(query) - {"region", "secure", "expire"}:
            raise ImproperlyConfigured(
                "STORAGE_URL must read s3://KEY:SECRET@HOST:PORT/BUCKET?region=…&secure=0|1&expire=SECONDS."
            )
        if query.get("secure", "1") not in {"0", "1"}:
            raise ImproperlyConfigured(f"STORAGE_URL: secure={query['secure']!r} must be 0 or 1.")
        try:
            host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        except ValueError:
            raise ImproperlyConfigured("STORAGE_URL has a bad port.") from None
        scheme = "https" if query.get("secure", "1") == "1" else "http"
        endpoint, region, expire = (f"{scheme}://{host}" if host else None), query.get("region"), query.get("expire")
        access_key, secret_key = unquote(parts.username or ""), unquote(parts.password or "")
    elif bucket:
        endpoint = environ.get("AWS_S3_ENDPOINT_URL") or None
        region = environ.get("AWS_S3_REGION_NAME") or environ.get("AWS_DEFAULT_REGION")
        prefix, expire = environ.get("AWS_LOCATION", ""), environ.get("AWS_QUERYSTRING_EXPIRE")
        access_key, secret_key = environ.get("AWS_ACCESS_KEY_ID", ""), environ.get("AWS_SECRET_ACCESS_KEY", "")
    else:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if expire is not None and not expire.isdigit():
        raise ImproperlyConfigured(f"The storage link lifetime {expire!r} is not a whole number of seconds.")
    options = {
        "bucket_name": bucket,
        "location": prefix.strip("/"),
        "endpoint_url": endpoint,
        "region_name": region or "us-east-1",
        # Other S3-compatible servers want /bucket/key; Amazon wants bucket.host.
        "addressing_style": "path" if endpoint else None,
        "signature_version": "s3v4",
        # Objects stay private; any link to one is signed and expires soon (5 minutes).
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": int(expire or 300),
        # Like the local folder: never overwrite, a taken name gets a suffix.
        "file_overwrite": False,
        # A file opened for reading spills to a temporary file past this, never whole in memory.
        "max_memory_size": 8 * 1024 * 1024,
    }
    if access_key:  # otherwise boto3's own chain (instance role, ~/.aws) finds the credentials
        options |= {"access_key": access_key, "secret_key": secret_key}
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


# The local media folder; with object storage, where a worker keeps downloads in progress.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Clips are served through an access-checked view, never straight from here.
MEDIA_URL = "/media/"
try:
    _media_storage = media_storage(os.environ)
except ImproperlyConfigured as problem:
    PROBLEMS.append(str(problem))
    _media_storage = media_storage({})
STORAGES = {
    "default": _media_storage,
    # With DEBUG off, the hashed names `collectstatic` writes (`make run` runs it; a deployment must).
    "staticfiles": {
        "BACKEND": "studio.staticfiles.StaticFiles"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Provider keys are encrypted with a key derived from this (or SECRET_KEY).
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", SECRET_KEY)

# A download that sends nothing for this long is dropped and resumed with Range.
DOWNLOAD_READ_TIMEOUT_S = env_number("DOWNLOAD_READ_TIMEOUT_S", 60, minimum=1)
# How long a submit waits for the provider's answer before it counts as uncertain.
SUBMIT_READ_TIMEOUT_S = env_number("SUBMIT_READ_TIMEOUT_S", 60, minimum=1)

# The built-in simulator (/simulator/<route>/): mounted only where it is on. Anyone who can
# reach it can make its workers render, so a team deployment with DEBUG off leaves it off
# unless DAILIES_SIMULATOR=1 says otherwise.
SIMULATOR_ENABLED = env_bool("DAILIES_SIMULATOR", EMBEDDED_DEFAULT or DEBUG)
# How long a simulated job takes, in seconds, by tier.
SIMULATOR = {
    "draft_seconds": env_number("SIMULATOR_DRAFT_SECONDS", 6),
    "final_seconds": env_number("SIMULATOR_FINAL_SECONDS", 15),
}
# The simulator keeps only its last this many requests (its log is for tests and demos).
SIMULATOR_LOG_ROWS = int(env_number("SIMULATOR_LOG_ROWS", 5000, minimum=1))
# New projects draft and render on the simulator, like the sample project: on by default
# only on the embedded default, where no real key exists yet; never while the simulator is off.
SIMULATOR_FOR_NEW_PROJECTS = env_bool("DAILIES_SIMULATOR_FOR_NEW_PROJECTS", EMBEDDED_DEFAULT and SIMULATOR_ENABLED)
if SIMULATOR_FOR_NEW_PROJECTS and not SIMULATOR_ENABLED:
    PROBLEMS.append(
        "DAILIES_SIMULATOR_FOR_NEW_PROJECTS=1 wires new projects to the simulator, which is off here "
        "(set DAILIES_SIMULATOR=1 to turn it on)."
    )

# Invitations and notifications go through Django's e-mail backend: the console unless set.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Dailies <dailies@localhost>")

# HTTPS. A team deployment is served over TLS: plain http is redirected, HSTS is sent and the session
# and CSRF cookies are secure-only. The embedded default (`make run`) is plain http on this machine or
# its LAN address: there a redirect to https finds nothing listening and a browser never sends a
# secure-only cookie back over http, so nobody could log in. So all of it is off on the embedded
# default (and with DEBUG=1, a developer's machine), unless DAILIES_HTTPS=1 says TLS is in front.
HTTPS = env_bool("DAILIES_HTTPS", not EMBEDDED_DEFAULT and not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Load balancers probe the health check over plain http, from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(env_number("SECURE_HSTS_SECONDS", 31536000)) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def media_origins(storage: dict) -> list[str]:
    """Where the browser fetches media from besides this site: the object store's presigned links."""
    options = storage.get("OPTIONS", {})
    if "bucket_name" not in options:
        return []
    if options.get("endpoint_url"):
        endpoint = urlparse(options["endpoint_url"])
        return [f"{endpoint.scheme}://{endpoint.netloc}"]
    # Amazon S3 itself: the bucket's own host, with or without its region, or the region's path style.
    bucket, region = options["bucket_name"], options.get("region_name") or "us-east-1"
    return [
        f"https://{bucket}.s3.amazonaws.com",
        f"https://{bucket}.s3.{region}.amazonaws.com",
        f"https://s3.{region}.amazonaws.com",
    ]


# Content-Security-Policy (django-csp): only our own scripts and styles, nothing inline (templates carry
# data-* attributes that static/js/studio.js reads), no framing. Pictures and video may also come from
# the object store, whose presigned links playback and posters can be sent to.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *media_origins(STORAGES["default"])],
        "media-src": ["'self'", "blob:", *media_origins(STORAGES["default"])],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Error reports (the DEBUG page, mailed reports) hide what `sensitive_variables` marks, DEBUG or not.
DEFAULT_EXCEPTION_REPORTER_FILTER = "studio.logs.ErrorReportFilter"
# Logs: one JSON object per line on stderr (studio/logs.py says why), server errors with their
# traceback (django.request logs them at ERROR), anything shaped like a provider key masked. The
# loggers only set levels: everything goes through the root's one handler, and so through its filter.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    PROBLEMS.append(f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL.")
    LOG_LEVEL = "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"hide_keys": {"()": "studio.logs.HideKeys"}},
    "formatters": {"json": {"()": "studio.logs.JsonLines"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["hide_keys"],
        },
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django": {"level": LOG_LEVEL},
        "studio": {"level": LOG_LEVEL},
        "django-q": {"level": LOG_LEVEL},
        # httpx logs every request URL at INFO; URLs can carry keys (route 5's
        # file links), so keep it quiet.
        "httpx": {"level": "WARNING"},
    },
}

# Last: every problem found above in one message, one a line (manage.py and studio/wsgi.py print it
# without a traceback). Anything added to this file goes above this.
if PROBLEMS:
    raise ImproperlyConfigured("\n".join(PROBLEMS))
