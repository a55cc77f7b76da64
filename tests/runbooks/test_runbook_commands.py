"""Runbooks stay true: every `slipway` command quoted in a runbook page or in HANDOFF.md parses with
the real CLI (its commands, subcommands and options exist and take what the page gives them)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.exceptions import NoArgsIsHelpError

from slipway.cli import main

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
QUOTED = re.compile(r"`(slipway [^`]+)`")
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def quoted_commands() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for page in sorted(RUNBOOKS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        lines = [line.strip().removeprefix("$ ") for block in FENCED.findall(text) for line in block.splitlines()]
        for command in [*QUOTED.findall(text), *(line for line in lines if line.startswith("slipway "))]:
            found.setdefault(command.split(" #")[0].strip(), str(page.relative_to(RUNBOOKS)))
    return sorted(found.items())


def parse(command: click.Command, args: list[str], name: str = "slipway") -> None:
    """Parse as click would run it, without running: unknown commands, options or extra arguments fail.
    A quote that leaves out required values (a mention such as `slipway gate`) is allowed."""
    try:
        ctx = command.make_context(name, list(args))
    except (click.MissingParameter, NoArgsIsHelpError):  # a mention of a command or a group
        return
    if isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        sub_name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and sub_name is not None
        parse(sub, rest, sub_name)


def with_placeholders(command: str, value: str) -> list[str]:
    """``<id>``, ``<report folder>``: one placeholder each, given ``value`` (an existing path)."""
    return shlex.split(re.sub(r"<[^>]+>", value, command))[1:]


def test_runbooks_quote_commands() -> None:
    commands = dict(quoted_commands())
    assert len(commands) >= 20 and "slipway drill run watchdog" in commands


@pytest.mark.parametrize(("command", "page"), quoted_commands())
def test_a_quoted_command_parses_with_the_real_cli(command: str, page: str, tmp_path: Path) -> None:
    existing_file = tmp_path / "placeholder"
    existing_file.write_text("x")
    try:
        parse(main, with_placeholders(command, str(existing_file)))
    except click.BadParameter:  # the placeholder stands for a folder there
        parse(main, with_placeholders(command, str(tmp_path)))


def test_a_wrong_command_or_option_fails_to_parse() -> None:
    with pytest.raises(click.UsageError):
        parse(main, ["promote", "aprove", "x"])
    with pytest.raises(click.UsageError):
        parse(main, ["drill", "run", "watchdog", "--no-such-option"])
