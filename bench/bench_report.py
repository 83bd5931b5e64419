"""Benchmark: ``feelinvideo report`` on a 10,000-row faces.csv, against reading that CSV.

A synthetic run (20 people: 18 named, 2 unknown; a face of each every 2 s over 1,000 s, so
500 sampled frames and 10,000 rows; random emotion scores) is written to a temporary folder
with its ``summary.json``. Then, in this one process, after one warm-up call (imports
matplotlib, fills caches):

1. the reference: ``pandas.read_csv`` of that faces.csv, the least any report must do;
2. ``make_report`` on it: read and check, tables, SQLite ``--db``, three plots, report.html.

Each is timed ``--repeat`` times (best and median kept); the ratio of the medians is
printed, so a busy machine slows both sides alike. No threshold is asserted: speed lives
here, never in a test.

Usage: python bench/bench_report.py [--repeat 5] [--no-plots] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from feelinvideo.report import make_report
from feelinvideo.schema import EMOTIONS, FACE_COLUMNS, format_time

PEOPLE = [f"student{i:02d}" for i in range(18)] + ["unknown-1", "unknown-2"]
FRAMES = 500
EVERY_S = 2.0


def synthetic_run(folder: Path, seed: int = 0) -> Path:
    """Write ``folder/faces.csv`` (10,000 rows) and ``folder/summary.json``; return the CSV."""
    rng = np.random.default_rng(seed)
    n = FRAMES * len(PEOPLE)
    frame = np.repeat(np.arange(FRAMES), len(PEOPLE))
    seconds = frame * EVERY_S
    scores = rng.dirichlet(np.ones(len(EMOTIONS)), size=n).round(4)
    df = pd.DataFrame(
        {
            "frame_index": frame * 50,
            "timestamp_s": seconds,
            "time": [format_time(s) for s in seconds],
            "face_index": np.tile(np.arange(len(PEOPLE)), FRAMES),
            "x_min": 10.0,
            "y_min": 20.0,
            "x_max": 60.0,
            "y_max": 80.0,
            "detection_confidence": rng.uniform(0.9, 1.0, n).round(4),
            **{e: scores[:, i] for i, e in enumerate(EMOTIONS)},
            "dominant_emotion": np.array(EMOTIONS)[scores.argmax(axis=1)],
            "person": np.tile(PEOPLE, FRAMES),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "faces.csv"
    df[list(FACE_COLUMNS) + ["person"]].to_csv(csv_path, index=False)
    summary = {
        "video": {"path": "/videos/long_lecture.mp4", "duration_s": FRAMES * EVERY_S},
        "sampled_frames": FRAMES,
        "every_s": EVERY_S,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return csv_path


def timed(fn: Callable[[int], object], repeat: int) -> list[float]:
    """Wall times in seconds of ``fn(i)`` for i in range(repeat)."""
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed calls of each (>= 1)")
    parser.add_argument("--no-plots", action="store_true", help="time the report without plots")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        work = args.keep or Path(tmp)
        csv_path = synthetic_run(work / "long_lecture_feelinvideo")
        rows = len(pd.read_csv(csv_path))
        plots = not args.no_plots

        def report(i: int):
            out = work / f"report_{i}"
            return make_report(
                [csv_path], out, window_s=60.0, db_path=work / f"t_{i}.db", plots=plots
            )

        warm = report(-1)  # imports matplotlib, checks the output once
        assert int(warm.people["attended"].sum()) == rows, "every face counted once"
        reference = timed(lambda _i: pd.read_csv(csv_path), repeat)
        measured = timed(report, repeat)

    print(f"faces.csv: {rows:,} rows, {len(PEOPLE)} people, {FRAMES * EVERY_S:g} s")
    print(
        f"pandas.read_csv (reference): median {statistics.median(reference) * 1000:.1f} ms, "
        f"best {min(reference) * 1000:.1f} ms"
    )
    what = "plots included" if plots else "no plots"
    print(
        f"make_report ({what}, --db): median {statistics.median(measured):.3f} s, "
        f"best {min(measured):.3f} s"
    )
    ratio = statistics.median(measured) / statistics.median(reference)
    print(f"ratio make_report / read_csv (medians): {ratio:.1f}x")


if __name__ == "__main__":
    main()
