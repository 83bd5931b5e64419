"""Benchmark: a fresh install and its first run, against a reference revision, in one session.

For this checkout and for a reference (``--reference REV``: a git revision, archived into a
temporary folder; default ``main``), each into a new virtual environment:

1. ``python3 -m venv VENV && VENV/bin/pip install -q SOURCE`` (a base install, no extra),
   timed; then the venv's size (``du -sb``), and whether TensorFlow was installed;
2. the demo's run, ``feelinvideo analyze WolfgangLanger_Pexels.mp4 --out OUT`` with an empty
   HOME (and no XDG cache), timed: whether it printed a ``preparing ... once`` line, and what
   it wrote under HOME;
3. the two runs' ``faces.csv`` compared: the same rows, and the largest difference of an
   emotion score.

Seconds depend on the machine's load and the package mirror: compare the ratios of the same
run. Usage: python bench/bench_install.py [--reference main] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from feelinvideo.schema import EMOTIONS  # noqa: E402


def sample_video() -> Path:
    done = subprocess.run(
        [sys.executable, str(ROOT / "sample_videos" / "fetch_sample.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def install(source: Path, venv: Path) -> dict:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    before = load()
    start = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    seconds = time.perf_counter() - start
    size = int(
        subprocess.run(["du", "-sb", str(venv)], capture_output=True, text=True).stdout.split()[0]
    )
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list"], capture_output=True, text=True
    ).stdout.lower()
    tensorflow = any(line.split()[0].startswith("tensorflow") for line in listed.splitlines()[2:])
    return {"install_s": seconds, "bytes": size, "tensorflow": tensorflow, "load": before}


def first_run(venv: Path, video: Path, work: Path) -> dict:
    home, out = work / "home", work / "demo_output"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env |= {"HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "feelinvideo"), "analyze", str(video), "--out", str(out)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench_install: {venv}: analyze failed: {done.stderr[-800:]}")
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    return {
        "first_run_s": seconds,
        "preparing": [line for line in done.stderr.splitlines() if "preparing" in line],
        "home_files": written,
        "faces_csv": out / "faces.csv",
    }


def largest_score_difference(a: Path, b: Path) -> tuple[int, int, float]:
    def rows(path):
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    left, right = rows(a), rows(b)
    if len(left) != len(right):
        return len(left), len(right), float("inf")
    worst = max(
        (abs(float(x[e]) - float(y[e])) for x, y in zip(left, right) for e in EMOTIONS),
        default=0.0,
    )
    return len(left), len(right), worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default="main", help="git revision to compare with")
    parser.add_argument("--keep", type=Path, help="keep the venvs and outputs in this folder")
    args = parser.parse_args()
    video = sample_video()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_install_"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        ref_src = base / "reference_src"
        ref_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.reference], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(ref_src)], input=archive, check=True)
        results = {}
        for name, source in (("this checkout", ROOT), (f"reference {args.reference}", ref_src)):
            work = base / name.split()[0]
            work.mkdir()
            found = install(source, work / "venv")
            found |= first_run(work / "venv", video, work)
            results[name] = found
            print(f"bench_install: {name} done (load {found['load']})", file=sys.stderr)
        ours, ref = results.values()
        print(f"{'install':<22}{'install s':>10}{'size GB':>9}{'TF':>5}{'first run s':>13}  notes")
        for name, r in results.items():
            notes = f"{len(r['preparing'])} 'preparing' lines; HOME: {r['home_files'] or 'empty'}"
            print(
                f"{name:<22}{r['install_s']:>10.0f}{r['bytes'] / 1e9:>9.2f}"
                f"{'yes' if r['tensorflow'] else 'no':>5}{r['first_run_s']:>13.1f}  {notes}"
            )
        print(
            f"ratios this/reference: install time {ours['install_s'] / ref['install_s']:.2f}, "
            f"size {ours['bytes'] / ref['bytes']:.2f}, "
            f"first run {ours['first_run_s'] / ref['first_run_s']:.2f}"
        )
        n_ours, n_ref, worst = largest_score_difference(ours["faces_csv"], ref["faces_csv"])
        print(f"faces.csv: {n_ours} rows against {n_ref}; largest score difference {worst:.2g}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
