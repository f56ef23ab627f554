"""deploy/Dockerfile and docker-compose.yml, read as files (no Docker engine here): a health
check per service, the ports and the OCI labels (the lock it installs: test_lock.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from newsdedup.cli import main
from newsdedup.healthcheck import SERVICES

REPO = Path(__file__).resolve().parents[1]
OCI_LABELS = {"title", "description", "version", "source", "licenses", "revision"}


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in joined.splitlines()
        if line.strip()
    ]


def test_every_compose_service_has_a_health_check() -> None:
    services = compose_services()
    assert {"redis", "postgres", "migrate", "worker", "beat", "flower", "api"} <= set(services)
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"service {name!r} has no healthcheck"
        if check.get("disable"):
            # Only a one-shot may go without: the others wait for it to complete.
            assert service.get("restart") == "no", name
            dependants = [
                other
                for other in services.values()
                if other.get("depends_on", {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert dependants, name
            continue
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert check.get("interval") and check.get("retries"), name


def test_compose_health_checks_are_commands_that_exist() -> None:
    for name, service in compose_services().items():
        test = service["healthcheck"].get("test") or []
        if test[1:3] != ["newsdedup", "healthcheck"]:
            continue
        assert test[3] in SERVICES, name
        # The command parses (--help stops before checking anything).
        result = CliRunner().invoke(main, [*test[2:], "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_newsdedup_services_start_after_their_dependencies_are_healthy() -> None:
    services = compose_services()
    for name in ("worker", "beat", "flower", "api"):
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_dockerfile_has_healthcheck_ports_and_labels() -> None:
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    assert kinds.count("HEALTHCHECK") == 1
    healthcheck = dict(instructions)["HEALTHCHECK"]
    assert '"newsdedup", "healthcheck", "auto"' in healthcheck
    exposed = {port for kind, args in instructions if kind == "EXPOSE" for port in args.split()}
    assert {"8000", "5555"} <= exposed
    labels = " ".join(args for kind, args in instructions if kind == "LABEL")
    found = set(re.findall(r"org\.opencontainers\.image\.([a-z]+)=", labels))
    assert found == OCI_LABELS
    # Version and revision come from build arguments, not from the file.
    build_args = {args.split("=", 1)[0] for kind, args in instructions if kind == "ARG"}
    assert {"VERSION", "REVISION"} <= build_args
    assert "${VERSION}" in labels and "${REVISION}" in labels


def test_every_compose_command_runs_against_the_installed_package(tmp_path: Path) -> None:
    """The one-shot ``migrate`` service runs Python code of its own: it must import what the
    package installs (``newsdedup.*``), from a folder that is not the checkout."""
    for name, service in compose_services().items():
        command = service.get("command") or []
        if command[:2] != ["python", "-c"]:
            continue
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
        env.pop("PYTHONPATH", None)
        env["NEWSDEDUP_DATABASE_URL"] = f"sqlite:///{tmp_path / f'{name}.db'}"
        result = subprocess.run(
            [sys.executable, "-c", command[2]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (name, result.stderr[-2000:])
