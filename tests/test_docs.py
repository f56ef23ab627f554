"""The reference docs cannot drift from the code: every setting is described in
docs/configuration.md, and every command and each of its options in docs/commands.md."""

from __future__ import annotations

import re

import click
import pytest
from helpers import REPO

from newsdedup.cli import main
from newsdedup.config import Settings
from newsdedup.config.settings import ENV_PREFIX

CONFIGURATION = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
COMMANDS = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """Every command a user can run, by its words after ``newsdedup`` ("archive prune")."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= commands(command, (*path, name))
        elif not command.hidden:
            found[" ".join((*path, name))] = command
    return found


def section(name: str) -> str:
    """The text of docs/commands.md under ``### name``, up to the next heading."""
    match = re.search(rf"^### {re.escape(name)}\n(.*?)(?=^#)", COMMANDS + "\n#", re.S | re.M)
    assert match, f"docs/commands.md has no '### {name}' section"
    return match[1]


def options(command: click.Command) -> list[str]:
    return [
        option
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for option in param.opts
        if option.startswith("--")
    ]


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_described_in_the_configuration_doc(field: str) -> None:
    assert f"`{ENV_PREFIX}{field.upper()}`" in CONFIGURATION


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_and_option_is_described_in_the_commands_doc(name: str) -> None:
    text = section(name)
    missing = [
        option
        for option in options(commands()[name])
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text)
    ]
    assert missing == [], f"docs/commands.md, '### {name}' does not describe {missing}"


def test_the_doc_checks_see_every_command_and_could_fail() -> None:
    assert {"crawl", "serve", "archive prune", "healthcheck"} <= set(commands())
    assert "--host" in options(commands()["serve"])
    with pytest.raises(AssertionError):
        section("no-such-command")
