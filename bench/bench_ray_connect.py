"""Benchmark: how long ``analyze --engine ray`` takes to give up on a cluster it cannot
reach (issue 26), from the command's start to its one ``Error:`` line.

Two cases, each a fresh ``python -m feelinvideo analyze fer/test.mp4 --engine ray`` process
(interpreter start and imports included):

- a loopback port nobody listens on (connection refused: refused before Ray starts);
- a port that accepts connections but is no Ray, with ``FEELINVIDEO_RAY_TIMEOUT`` (default
  7 s here): given up at that timeout, where Ray alone retries for minutes.

The tests (tests/engines/test_ray_engine.py) check the messages and that ``--out`` is left
as it was; the times are measured here, not asserted there.

Usage: python bench/bench_ray_connect.py [--timeout 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "fer" / "test.mp4"


def timed_analyze(address: str, env: dict[str, str]) -> tuple[float, str]:
    """Seconds the command took and its last stderr line."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "feelinvideo", "analyze", str(VIDEO)]
        command += ["--out", str(Path(folder) / "out"), "--engine", "ray"]
        command += ["--address", address, "--no-video"]
        start = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, env=dict(os.environ, **env), timeout=900
        )
        took = time.perf_counter() - start
    lines = [line for line in done.stderr.replace("\r", "\n").splitlines() if line.strip()]
    return took, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not VIDEO.exists():
        sys.exit(f"skipped: {VIDEO} not found (../shared/data)")
    env = {"PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import feelinvideo.cli"], env=dict(os.environ, **env))
    print(f"reference: the interpreter and the CLI's imports, {time.perf_counter() - start:.1f} s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    for _ in range(args.repeat):
        took, line = timed_analyze(f"127.0.0.1:{closed}", env)
        print(f"nobody listening: {took:.1f} s  {line}")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        for _ in range(args.repeat):
            took, line = timed_analyze(
                f"127.0.0.1:{port}", dict(env, FEELINVIDEO_RAY_TIMEOUT=f"{args.timeout:g}")
            )
            print(f"not Ray (timeout {args.timeout:g} s): {took:.1f} s  {line}")


if __name__ == "__main__":
    main()
