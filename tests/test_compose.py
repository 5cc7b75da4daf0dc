"""docker-compose.yml and platform/ describe processes that exist: every command names importable
code, the image and entrypoint exist, services wait for healthy dependencies, and the test
fixtures run the very commands compose runs."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")
DOCKERFILE = REPO_ROOT / "platform" / "Dockerfile"


def dockerfile_instruction(keyword: str) -> list[str]:
    """Arguments of every ``keyword`` instruction in platform/Dockerfile."""
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    return [line.split(None, 1)[1] for line in lines if line.split(None, 1)[:1] == [keyword]]


def test_compose_runs_the_five_processes_of_a_deployment() -> None:
    assert set(SERVICES) == {"postgres", "redis", "web", "worker", "beat"}
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")


def test_application_services_share_one_image_built_from_platform_dockerfile() -> None:
    builds = {(SERVICES[name]["build"]["context"], SERVICES[name]["build"]["dockerfile"]) for name in APP_SERVICES}
    images = {SERVICES[name]["image"] for name in APP_SERVICES}

    assert builds == {(".", "platform/Dockerfile")}
    assert len(images) == 1
    assert DOCKERFILE.is_file()


def test_dockerfile_builds_a_slim_non_root_image_with_collected_static_files() -> None:
    assert dockerfile_instruction("FROM") == ["python:3.11-slim"]
    assert dockerfile_instruction("USER") not in ([], ["root"])
    runs = " ".join(dockerfile_instruction("RUN"))
    assert "pip install -r requirements.txt" in runs
    assert "collectstatic --noinput" in runs


def test_entrypoint_exists_is_executable_and_is_not_a_python_package() -> None:
    (entrypoint,) = dockerfile_instruction("ENTRYPOINT")
    path = REPO_ROOT / yaml.safe_load(entrypoint)[0].removeprefix("/app/")

    assert path.is_file() and os.access(path, os.X_OK)
    assert not (REPO_ROOT / "platform" / "__init__.py").exists()


def test_entrypoint_runs_the_command_it_is_given() -> None:
    env = dict(os.environ, PLENUM_MIGRATE="0")
    completed = subprocess.run(
        ["platform/entrypoint.sh", "echo", "started"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "started\n"


def test_entrypoint_migrates_the_database_when_asked(child_env: dict[str, str]) -> None:
    env = dict(child_env, PLENUM_MIGRATE="1")
    completed = subprocess.run(
        ["platform/entrypoint.sh", "echo", "served"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )

    assert completed.returncode == 0, completed.stderr
    assert "No migrations to apply." in completed.stdout
    assert completed.stdout.endswith("served\n")


def test_only_the_web_service_migrates() -> None:
    migrating = {name for name in APP_SERVICES if SERVICES[name]["environment"].get("PLENUM_MIGRATE") == "1"}

    assert migrating == {"web"}


def test_web_command_serves_the_asgi_application_that_exists() -> None:
    command = SERVICES["web"]["command"]
    assert command[0] == "daphne"
    module_name, attribute = command[-1].split(":")

    application = getattr(importlib.import_module(module_name), attribute)

    assert callable(application)
    assert command[command.index("-b") + 1] == "0.0.0.0"
    assert command[command.index("-p") + 1] == "8000"


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_celery_commands_name_the_celery_app_that_exists(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command[:2] == ["celery", "-A"]
    assert command[3] == service

    assert isinstance(find_app(command[2]), Celery)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_settings_module_of_each_application_service_exists(service: str) -> None:
    module = SERVICES[service]["environment"]["DJANGO_SETTINGS_MODULE"]

    assert importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("service", ["postgres", "redis", "web"])
def test_service_has_a_healthcheck(service: str) -> None:
    assert SERVICES[service]["healthcheck"]["test"][0] == "CMD"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_application_services_wait_for_healthy_dependencies(service: str) -> None:
    depends_on = SERVICES[service]["depends_on"]

    assert "redis" in depends_on
    assert {condition["condition"] for condition in depends_on.values()} == {"service_healthy"}
    if service == "web":
        assert "postgres" in depends_on
    else:
        assert "web" in depends_on, "worker and beat start after the web service has migrated the database"


def test_asgi_server_fixture_runs_the_compose_web_command(asgi_server) -> None:
    port = asgi_server.rsplit(":", 1)[1]
    expected = [{"0.0.0.0": "127.0.0.1", "8000": port}.get(part, part) for part in SERVICES["web"]["command"]]

    assert asgi_server.child.argv == expected


@pytest.mark.services
def test_celery_worker_fixture_runs_the_compose_worker_command(celery_worker_process) -> None:
    assert celery_worker_process.argv == SERVICES["worker"]["command"]
