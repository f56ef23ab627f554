"""The settings a ``newsdedup`` command runs with: read once, a bad one a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import click

from newsdedup.config import Settings, load_settings, logs


def command_settings(config_path: Path | None = None) -> Settings:
    """``load_settings`` for a command: a bad value stops it with a message naming the
    variable, and its lines are logged in ``NEWSDEDUP_LOG_FORMAT`` from then on."""
    try:
        settings = load_settings(config=config_path)
    except Exception as exc:  # noqa: BLE001 - SettingsError names the variable
        raise click.UsageError(f"bad setting: {exc}") from None
    logs.use_format(settings.log_format)
    return settings
