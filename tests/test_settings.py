"""config/settings.py from the environment: production passes Django's deployment checks, the
embedded default needs nothing, and unsafe or malformed settings stop the process with a message."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "plenum.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://plenum.example.org",
    "DJANGO_HTTPS": "1",
    "DJANGO_BEHIND_PROXY": "1",
    # Never connected to: `check` without --database does not open a connection.
    "DATABASE_URL": "postgres://plenum:secret@db.invalid:5432/plenum",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py with only ``env`` (plus PATH and HOME) in the environment."""
    base = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def show(*names: str, **env: str) -> list[str]:
    """The repr of each named setting, as a process with ``env`` sees it."""
    code = "from django.conf import settings; " + "; ".join(f"print(repr(settings.{name}))" for name in names)
    completed = manage("shell", "--no-imports", "-c", code, **env)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_production_settings_pass_the_deployment_checks_without_warnings() -> None:
    completed = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "System check identified no issues" in completed.stdout


def test_production_without_https_fails_the_deployment_checks() -> None:
    completed = manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "DJANGO_HTTPS": "0"})

    assert completed.returncode != 0
    assert "security.W004" in completed.stderr  # no HSTS
    assert "security.W008" in completed.stderr  # no redirect to https


def test_production_runs_without_debug_on_postgres_and_redis() -> None:
    debug, engine, layer, eager, pool = show(
        "DEBUG",
        "DATABASES['default']['ENGINE']",
        "CHANNEL_LAYERS['default']['BACKEND']",
        "CELERY_TASK_ALWAYS_EAGER",
        "DATABASES['default']['OPTIONS']['pool']['max_size']",
        **PRODUCTION,
    )

    assert debug == "False"
    assert engine == "'django.db.backends.postgresql'"
    assert layer == "'channels_redis.pubsub.RedisPubSubChannelLayer'"
    assert eager == "False"
    assert pool == "20"


def test_the_core_redis_layer_and_no_pool_can_be_chosen() -> None:
    layer, timeout, options = show(
        "CHANNEL_LAYERS['default']['BACKEND']",
        "CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['socket_timeout']",
        "DATABASES['default'].get('OPTIONS', {})",
        **PRODUCTION,
        PLENUM_CHANNEL_LAYER="redis",
        DB_POOL_MAX_SIZE="0",
    )

    assert layer == "'channels_redis.core.RedisChannelLayer'"
    assert int(timeout) > 5  # longer than the core layer's 5 s blocking read of an idle channel
    assert options == "{}"


def test_embedded_default_needs_no_environment() -> None:
    completed = manage("check")
    debug, engine, layer, eager = show(
        "DEBUG", "DATABASES['default']['ENGINE']", "CHANNEL_LAYERS['default']['BACKEND']", "CELERY_TASK_ALWAYS_EAGER"
    )

    assert completed.returncode == 0, completed.stderr
    assert debug == "True"
    assert engine == "'django.db.backends.sqlite3'"
    assert layer == "'channels.layers.InMemoryChannelLayer'"
    assert eager == "True"


def test_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    for env in ({"DATABASE_URL": PRODUCTION["DATABASE_URL"]}, {"DJANGO_DEBUG": "0"}):
        completed = manage("check", **env)

        assert completed.returncode != 0
        assert "DJANGO_SECRET_KEY is not set and DEBUG is off" in completed.stderr


def test_debug_can_be_switched_on_for_local_services_without_a_secret_key() -> None:
    (debug,) = show("DEBUG", DATABASE_URL=PRODUCTION["DATABASE_URL"], DJANGO_DEBUG="1")

    assert debug == "True"


def test_malformed_values_are_reported_by_name() -> None:
    for name, value, message in (
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG='maybe' is not a boolean"),
        ("DJANGO_HSTS_SECONDS", "a year", "DJANGO_HSTS_SECONDS='a year' is not a whole number"),
    ):
        completed = manage("check", **{name: value})

        assert completed.returncode != 0
        assert message in completed.stderr


ENV_READ = r'(?:env_bool|env_number|env_list|os\.environ\.get|os\.environ\[)\(?\s*"([A-Z0-9_]+)"'
# Everything Plenum runs (test files only read what their own subprocesses were given).
# Plenum's own code; the benchmark scripts' hand-offs to their child processes are not settings.
CODE = [
    str(path.relative_to(REPO_ROOT))
    for path in REPO_ROOT.glob("[!.]*/**/*.py")
    if "tests" not in path.parts and "benchmarks" not in path.parts
]


def variables_in(path: str, pattern: str) -> set[str]:
    """Every match of ``pattern``'s first group in the file at ``path``."""
    return set(re.findall(pattern, (REPO_ROOT / path).read_text(), flags=re.MULTILINE))


def test_every_variable_is_documented_in_the_readme_table_and_env_example() -> None:
    read = set().union(
        *(variables_in(path, ENV_READ) for path in [*CODE, "manage.py", "tests/conftest.py"]),
        variables_in("platform/entrypoint.sh", r"\$\{([A-Z0-9_]+)"),
        variables_in("docker-compose.yml", r"\$\{([A-Z0-9_]+)"),
    )
    example = variables_in("platform/env.example", r"^#? ?([A-Z][A-Z0-9_]+)=")
    readme = variables_in("README.md", r"^\| `([A-Z][A-Z0-9_]+)` \|")

    assert example == readme
    assert read - example == set(), "read but not documented"
    assert example - read == set(), "documented but never read"
