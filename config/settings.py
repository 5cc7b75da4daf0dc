"""Plenum settings, all read from the environment (see the README's table and platform/env.example).

Embedded default: with neither DATABASE_URL nor DJANGO_SECRET_KEY set, Plenum runs for a
local demo — DEBUG on, a fixed development key, SQLite, the in-memory channel layer and
Celery tasks run eagerly in the web process. Setting DATABASE_URL and REDIS_URL switches to
services mode: PostgreSQL, channels-redis and real Celery workers. Outside the embedded
default DEBUG is off unless DJANGO_DEBUG says otherwise, and Plenum refuses to start without
DJANGO_SECRET_KEY while DEBUG is off.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a true/false environment variable; an unset or empty variable gives ``default``."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_number(name: str, default: int | float) -> int | float:
    """Read a number (of the same type as ``default``); an unset or empty variable gives ``default``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return type(default)(value)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ImproperlyConfigured(f"{name}={value!r} is not {kind}") from None


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED_DEFAULT = not DATABASE_URL and not os.environ.get("DJANGO_SECRET_KEY")

DEBUG = env_bool("DJANGO_DEBUG", EMBEDDED_DEFAULT)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set and DEBUG is off. Set DJANGO_SECRET_KEY to a long random value "
            "(production), or DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-plenum-embedded-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "deliberation",
    "voting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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

# With PostgreSQL, connections come from a pool (psycopg_pool): under ASGI every request runs
# in a thread of its own, so without one each request would open a new connection (a new
# server process). DB_POOL_MAX_SIZE=0 turns the pool off (then DB_CONN_MAX_AGE applies).
DB_POOL_MAX_SIZE = env_number("DB_POOL_MAX_SIZE", 20)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=0 if DB_POOL_MAX_SIZE else env_number("DB_CONN_MAX_AGE", 0),
            conn_health_checks=not DB_POOL_MAX_SIZE,
        )
    }
    if DB_POOL_MAX_SIZE:
        DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": DB_POOL_MAX_SIZE, "timeout": 10}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # A file, not memory, so a server process started by the tests can open it too;
            # the process id keeps test runs that happen at the same time apart.
            "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"plenum-test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Two Redis channel layers: "pubsub" (channels-redis' pub/sub layer, one publish per group
# message; the default, faster for large groups) and "redis" (its core layer, a list per
# channel); docs/benchmarks.md compares them.
CHANNEL_LAYER_BACKENDS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
CHANNEL_LAYER = os.environ.get("PLENUM_CHANNEL_LAYER", "pubsub").strip() or "pubsub"
if CHANNEL_LAYER not in CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"PLENUM_CHANNEL_LAYER={CHANNEL_LAYER!r} is not one of: {', '.join(CHANNEL_LAYER_BACKENDS)}"
    )
# Seconds a burst of ballots is gathered before one recompute of the question's result.
RESULT_DEBOUNCE_SECONDS = env_number("PLENUM_RESULT_DEBOUNCE_SECONDS", 0.5)

if REDIS_URL:
    # The core layer waits on an idle channel with a 5 s blocking pop; redis-py's default 5 s socket
    # timeout would end that wait with an error and close every idle websocket, so allow longer.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKENDS[CHANNEL_LAYER],
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env_number("CELERY_WORKER_CONCURRENCY", 2)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# celery beat: recompute questions whose debounced tally task was lost (say, a worker crashed).
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-tallies": {"task": "voting.sweep_pending_tallies", "schedule": 15.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise. The Docker image collects them at build time and sets
# STATIC_MANIFEST=1 (hashed, compressed, cached forever); otherwise they come straight from
# the source folders, so the demo and the tests need no collectstatic step.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", False)
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles") if STATIC_MANIFEST else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# HTTPS: DJANGO_HTTPS=1 when users reach the site over https (directly or through a proxy that
# terminates TLS; then also DJANGO_BEHIND_PROXY=1 so the X-Forwarded-Proto header is trusted).
HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_number("DJANGO_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY", False) else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}
