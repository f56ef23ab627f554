"""Helpers shared by test modules (imported as ``helpers``: pytest puts this folder on sys.path):
running the ``newsdedup`` command as a child process with exactly the settings a test gives it,
and reading its summary line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from newsdedup.config import Settings

REPO = Path(__file__).resolve().parent.parent

# Import name -> the repository folder that holds it ([tool.setuptools.package-dir]).
PACKAGE_FOLDERS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The command as a child process runs it: the installed (editable) package, with this Python.
NEWSDEDUP = (sys.executable, "-m", "newsdedup")

SUMMARY = re.compile(
    r"(?P<fetched>\d+) pages fetched, (?P<not_modified>\d+) not modified, (?P<created>\d+) articles created, "
    r"(?P<updated>\d+) updated, (?P<duplicates>\d+) duplicates, (?P<unchanged>\d+) unchanged, "
    r"(?P<rejected>\d+) rejected, (?P<errors>\d+) errors"
)


class _GivenSettings(Settings):
    """Settings from the arguments alone: a NEWSDEDUP_* variable of the developer's shell is
    neither read nor passed on."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def newsdedup_env(inherited: Mapping[str, str] | None = None, **settings: Any) -> dict[str, str]:
    """The environment of a ``newsdedup`` child process that sees exactly ``settings``
    (``database_url=..., redis_url=...``), validated and spelled as NEWSDEDUP_* variables by
    ``Settings.as_environment``: ``inherited`` (default: this process's environment) minus its
    NEWSDEDUP_* variables, plus these."""
    given = _GivenSettings(**settings)
    unset = frozenset(Settings.model_fields) - set(settings)
    return given.as_environment(os.environ if inherited is None else inherited, leave_out=unset)


def newsdedup(
    env: Mapping[str, str], *args: str, check: bool = True, timeout: float = 240, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``newsdedup ARGS`` with ``env`` (newsdedup_env) to its end; its output is printed, so
    pytest shows it when the test fails. ``check``: assert that it exited 0."""
    result = subprocess.run(
        [*NEWSDEDUP, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, **options
    )
    print(result.stdout, result.stderr)
    if check:
        assert result.returncode == 0
    return result


def summary_of(output: str) -> dict[str, int]:
    """The counts of a crawl's (or an import's) summary line."""
    match = SUMMARY.search(output)
    assert match, output
    return {key: int(value) for key, value in match.groupdict().items()}
