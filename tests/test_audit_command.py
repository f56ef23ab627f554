"""The dependency-vulnerability check is a documented command over the lock (no network here:
it is read, not run)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_audit_command_checks_every_locked_version_and_fails_when_it_cannot() -> None:
    script = ROOT / "deploy" / "audit.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text(encoding="utf-8")
    assert "PIP_AUDIT_VERSION=" in text and '"pip-audit==$PIP_AUDIT_VERSION"' in text
    command = next(line for line in text.splitlines() if line.startswith('"$tool/bin/pip-audit"'))
    for part in ("-r requirements.lock", "--no-deps", "--strict"):
        assert part in command


def test_the_readme_says_how_and_how_often_to_run_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    security = readme.split("## Security", 1)[1].split("\n## ", 1)[0]
    assert "deploy/audit.sh" in security and "weekly" in security
