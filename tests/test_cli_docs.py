"""Every command and option is documented in the README (as sqlite-utils checks its docs)."""

from __future__ import annotations

import re

import click
import pytest
from conftest import ROOT

from feelinvideo.cli import main

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from commands(command, path + " ")
        else:
            yield path, command


@pytest.mark.parametrize(("path", "command"), list(commands(main)), ids=lambda v: str(v))
def test_command_and_its_options_are_in_the_readme(path, command):
    assert f"feelinvideo {path}" in README, f"`feelinvideo {path}` is not in README.md"
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert re.search(rf"(`|, ){re.escape(opt)}\b", README), (
                        f"{path}: option {opt} is not documented in README.md"
                    )
