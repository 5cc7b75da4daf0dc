"""Shared test fixtures: real server processes, service and browser availability, Celery mode.

Markers (declared in pyproject.toml):
- ``services``: needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL);
- ``browser``: needs Debian's Chromium and Playwright.
A test whose marker cannot be satisfied is skipped with the reason, except under ``CI``,
where it fails: CI must never pass by skipping the tests that matter most.

Fixtures:
- ``celery_worker_process``: a real Celery worker (the docker-compose worker command) on the
  test database; services mode only.
- ``asgi_server``: a real ASGI server (the docker-compose web command) on a free port, serving
  the test database; yields its base URL. Works in both modes (embedded: the test SQLite file).
- ``child_env``: the environment for any subprocess that must use the test database.
All three request ``transactional_db``: a child process only sees committed rows.

Celery: a test that does not start a real worker runs tasks eagerly in its own process, in
both modes; with ``celery_worker_process`` tasks go through Redis to the worker. Two test runs
at the same time need their own database names and Redis database numbers (REDIS_URL=.../1),
or one run's worker takes the other's tasks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
STARTUP_TIMEOUT_SECONDS = 60


def unavailable(reason: str) -> None:
    """Skip the current test for ``reason``, or fail it when running under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: this test must run, not be skipped)", pytrace=False)
    pytest.skip(reason)


def services_configured() -> bool:
    """True when both DATABASE_URL and REDIS_URL are set (services mode)."""
    return bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def chromium_path() -> str | None:
    """Path of the Chromium executable (PLENUM_CHROMIUM overrides), or None when not installed."""
    override = os.environ.get("PLENUM_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


CHILDREN = pytest.StashKey[list["ChildProcess"]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the end of each fixture-started server's log to a failing test's report."""
    report = yield
    if report.failed:
        for child in item.stash.get(CHILDREN, []):
            report.sections.append((f"log of {child.argv[0]} ({child.log_path})", child.log()[-6000:]))
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, under CI, fail) marked tests whose services or browser are missing."""
    if item.get_closest_marker("services") and not services_configured():
        unavailable("services test: set DATABASE_URL and REDIS_URL to run it (see README)")
    if item.get_closest_marker("browser"):
        if chromium_path() is None:
            unavailable("browser test: Chromium is not installed (apt-get install chromium)")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            unavailable("browser test: the playwright package is not installed (requirements-dev.txt)")


# --- the commands docker-compose runs; the fixtures start exactly these ---------------------------


def compose_command(service: str) -> list[str]:
    """The command of ``service`` in docker-compose.yml, as an argument list."""
    spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]
    command = spec["command"]
    if not isinstance(command, list):
        raise AssertionError(f"docker-compose.yml: service {service} must give its command as a list")
    return [str(part) for part in command]


def web_command(host: str, port: int) -> list[str]:
    """The compose web command, with its bind address and port replaced by ``host`` and ``port``."""
    command = compose_command("web")
    for flag, value in (("-b", host), ("-p", str(port))):
        command[command.index(flag) + 1] = value
    return command


def worker_command() -> list[str]:
    """The compose worker command, unchanged."""
    return compose_command("worker")


# --- child processes ----------------------------------------------------------------------------


@dataclass
class ChildProcess:
    """A server process started by a fixture, with its combined output in ``log_path``."""

    argv: list[str]
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """Everything the process has written so far."""
        return self.log_path.read_text(errors="replace")

    def fail(self, why: str) -> None:
        """Stop the process and fail the test, showing the end of its log."""
        self.stop()
        pytest.fail(f"{why}: {' '.join(self.argv)}\n--- log (last 4000 chars) ---\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 15 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _start(request: pytest.FixtureRequest, argv: list[str], env: dict[str, str], log_path: Path) -> ChildProcess:
    """Start ``argv`` in the repository root, output to ``log_path``, shown if the test fails."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    child = ChildProcess(argv=argv, process=process, log_path=log_path)
    request.node.stash.setdefault(CHILDREN, []).append(child)
    return child


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(child: ChildProcess, ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready()`` until true; fail with the child's log if it exits or times out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not ready():
        if child.process.poll() is not None:
            child.fail(f"{what} exited with status {child.process.returncode} before it was ready")
        if time.monotonic() > deadline:
            child.fail(f"{what} was not ready after {STARTUP_TIMEOUT_SECONDS} s")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class ServerURL(str):
    """The base URL of a server a fixture started; ``.child`` is its process, command and log."""

    child: ChildProcess


@pytest.fixture(autouse=True)
def _celery_eager_unless_worker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run Celery tasks in the test process unless the test started a real worker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = "celery_worker_process" not in request.fixturenames
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def child_env(transactional_db, request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for a subprocess that must work on this test's database (committed rows only).

    It is this process's environment with the database swapped for the test database, this
    interpreter's bin directory (the venv) first on PATH, Django's async-safety guard on, and
    CELERY_TASK_ALWAYS_EAGER=0 when the test runs a real worker (otherwise 1).
    """
    from django.db import connection

    name = connection.settings_dict["NAME"]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["CELERY_TASK_ALWAYS_EAGER"] = "0" if "celery_worker_process" in request.fixturenames else "1"
    # Servers run with Django's async-safety guard on, as in production, whatever the test process allows itself.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if connection.vendor == "sqlite" and (name in ("", ":memory:") or "mode=memory" in str(name)):
        pytest.fail("child processes need a file test database (config.settings sets one)")
    if os.environ.get("DATABASE_URL"):
        url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urllib.parse.urlunsplit(url._replace(path=f"/{name}"))
    else:
        env["SQLITE_PATH"] = str(name)
    return env


@pytest.fixture
def celery_worker_process(
    child_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ChildProcess]:
    """A real Celery worker (compose's worker command) consuming from Redis, on the test database."""
    if not services_configured():
        unavailable("celery_worker_process needs services mode: set DATABASE_URL and REDIS_URL")
    env = dict(child_env, CELERY_WORKER_CONCURRENCY="1")
    child = _start(request, worker_command(), env, tmp_path / "celery-worker.log")
    _wait_until(child, lambda: " ready." in child.log(), "Celery worker")
    yield child
    child.stop()


@pytest.fixture
def asgi_server(child_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerURL]:
    """A real ASGI server (compose's web command) on a free port; yields "http://127.0.0.1:PORT".

    Tasks it enqueues run eagerly inside it, unless the test also uses ``celery_worker_process``.
    """
    port = _free_port()
    child = _start(request, web_command("127.0.0.1", port), child_env, tmp_path / "asgi.log")
    _wait_until(child, lambda: _port_open(port), "ASGI server")
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.child = child
    yield url
    child.stop()


@pytest.fixture
def chromium_executable() -> str:
    """Path of Debian's Chromium, for Playwright's ``executable_path`` (tests marked ``browser``)."""
    path = chromium_path()
    if path is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    return path
