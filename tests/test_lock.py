"""requirements.lock is the one locked set of versions (deploy/lock.sh writes it): every
distribution the project needs, runtime, dev tools and benchmark peers, pinned exactly, each pin
inside pyproject.toml's ranges, and installed by every install command the project documents.

Nothing here asks the registry what it serves today: the same commit must pass a year from now.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
INSTALL_WITH_LOCK = re.compile(r"pip install (?:-\S+ )*-c requirements\.lock ")


def locked_pins() -> list[Requirement]:
    pins = []
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pin = Requirement(line)
            spec = list(pin.specifier)
            assert len(spec) == 1 and spec[0].operator == "==", f"not an exact pin: {line!r}"
            pins.append(pin)
    return pins


def pin_here(name: str, extra: str = "") -> Requirement | None:
    """The pin that applies on this machine (Python 3.11 here; the lock holds every platform's)."""
    environment = {**default_environment(), "extra": extra}
    applicable = [
        pin
        for pin in locked_pins()
        if canonicalize_name(pin.name) == canonicalize_name(name)
        and (pin.marker is None or pin.marker.evaluate(environment))
    ]
    assert len(applicable) <= 1, f"{name} is pinned twice for this platform: {applicable}"
    return applicable[0] if applicable else None


def pinned_version(pin: Requirement) -> str:
    return next(iter(pin.specifier)).version


def project_requirements() -> list[tuple[Requirement, str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = [(Requirement(r), "") for r in project["dependencies"]]
    for extra, requirements in project["optional-dependencies"].items():
        found += [(Requirement(r), extra) for r in requirements]
    return found


def test_every_line_of_the_lock_is_an_exact_pin_and_the_project_is_not_in_it() -> None:
    names = {canonicalize_name(pin.name) for pin in locked_pins()}
    assert len(names) > 50
    assert "newsdedup" not in names  # the project itself is what gets built


@pytest.mark.parametrize(
    ("requirement", "extra"), project_requirements(), ids=lambda value: str(value) if value else "-"
)
def test_each_requirement_of_pyproject_is_locked_within_its_range(
    requirement: Requirement, extra: str
) -> None:
    pin = pin_here(requirement.name)
    assert pin is not None, f"{requirement.name} ([{extra or 'runtime'}]) is not in requirements.lock"
    version = pinned_version(pin)
    assert requirement.specifier.contains(version, prereleases=True), (
        f"requirements.lock pins {requirement.name}=={version}, outside pyproject's {requirement}; "
        "run deploy/lock.sh"
    )


def installed_closure(roots: list[str]) -> dict[str, list[Requirement]]:
    """Every distribution the installed project needs, with the requirements naming it: read from
    the metadata of what is installed here (runtime and the dev extra, as the README installs)."""
    environment = default_environment()
    seen: dict[str, list[Requirement]] = {}
    queue = [(Requirement(name), "") for name in roots]
    while queue:
        requirement, extra = queue.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(
            {**environment, "extra": extra}
        ):
            continue
        name = canonicalize_name(requirement.name)
        first = name not in seen
        seen.setdefault(name, []).append(requirement)
        if first:
            for line in importlib.metadata.requires(requirement.name) or []:
                for wanted in requirement.extras or {""}:
                    queue.append((Requirement(line), wanted))
    return seen


def test_the_lock_is_complete_and_is_what_is_installed() -> None:
    """Every distribution the installed project reaches is pinned, within every range that names it,
    and installed at its pin: the install commands honour the lock."""
    closure = installed_closure(["newsdedup[dev]"])
    closure.pop("newsdedup")
    missing, outside, drifted = [], [], []
    for name, requirements in sorted(closure.items()):
        pin = pin_here(name)
        if pin is None:
            missing.append(name)
            continue
        version = pinned_version(pin)
        outside += [
            f"{name}=={version} vs {r}" for r in requirements if not r.specifier.contains(version, True)
        ]
        if importlib.metadata.version(name) != version:
            drifted.append(f"{name}: {importlib.metadata.version(name)} installed, {version} locked")
    assert not missing, f"not in requirements.lock (run deploy/lock.sh): {missing}"
    assert not outside, f"pins outside a range that needs them: {outside}"
    assert not drifted, "installed without the lock? pip install -c requirements.lock ...: " + "; ".join(
        drifted
    )


def test_every_documented_install_uses_the_lock() -> None:
    readme = (REPO / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start") :].split("\n## ", 1)[0]
    installs = re.findall(r"pip install [^\n&]+", quick_start)
    assert len(installs) == 2 and all(INSTALL_WITH_LOCK.search(i + " ") for i in installs), installs
    ci = (REPO / ".ci" / "run").read_text()
    ci_installs = [
        line for line in ci.splitlines() if "pip install" in line and not line.lstrip().startswith("#")
    ]
    assert ci_installs and all("-c requirements.lock" in line for line in ci_installs), ci_installs
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    runs = [
        line
        for line in dockerfile.splitlines()
        if "pip install" in line and not line.lstrip().startswith("#")
    ]
    assert runs and all("-c requirements.lock" in line for line in runs), runs


def test_the_build_backend_is_pinned_too() -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert requires and all("==" in requirement for requirement in requires), requires
