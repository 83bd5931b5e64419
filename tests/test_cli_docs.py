"""Every command and option is documented in docs/cli.md (as sqlite-utils checks its docs)."""

from __future__ import annotations

import re

import click
import pytest
from conftest import ROOT

from feelinvideo.cli import main

CLI_DOC = ROOT / "docs" / "cli.md"
CLI_TEXT = CLI_DOC.read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from commands(command, path + " ")
        else:
            yield path, command


def long_options(command: click.Command):
    """Every ``--option`` of ``command``, the ``--no-...`` halves of on/off flags included."""
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("--") and opt != "--help":
                    yield opt


def undocumented(path: str, command: click.Command, text: str) -> list[str]:
    """What of ``feelinvideo <path>`` and its options ``text`` does not document. An option
    counts when written as `--opt...` or after ", " in a list, and only whole: `--no-video`
    does not document `--no`."""
    missing = []
    if f"feelinvideo {path}" not in text:
        missing.append(f"`feelinvideo {path}`")
    for opt in long_options(command):
        if not re.search(rf"(`|, ){re.escape(opt)}(?![\w-])", text):
            missing.append(opt)
    return missing


@pytest.mark.parametrize(("path", "command"), list(commands(main)), ids=lambda v: str(v))
def test_command_and_its_options_are_in_the_cli_reference(path, command):
    missing = undocumented(path, command, CLI_TEXT)
    assert not missing, f"{path}: not documented in docs/cli.md: {', '.join(missing)}"


def test_the_check_finds_what_is_undocumented():
    @click.command()
    @click.option("--no", is_flag=True)
    @click.option("--colour/--no-colour", default=True)
    def shown(no, colour):
        """A command the check must find wanting."""

    text = "`feelinvideo shown` takes `--no-video` and `--colour`."
    assert undocumented("shown", shown, text) == ["--no", "--no-colour"]
    assert undocumented("hidden", shown, text)[0] == "`feelinvideo hidden`"
    assert undocumented("shown", shown, text + " Also `--no`, `--no-colour`.") == []
