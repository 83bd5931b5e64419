"""Run one command in-process; write its wall time and peak memory as JSON to RESULT.json.

Usage: python bench/measure.py RESULT.json fer VIDEO OUTDIR
       python bench/measure.py RESULT.json feelinvideo ARGS...
"""

from __future__ import annotations

import json
import resource
import sys
import time


def run_fer(video: str, outdir: str) -> None:
    """fer 22.4.0's own pipeline: MTCNN + emotion model on every frame, annotated video written."""
    import os

    from fer import FER, Video

    os.makedirs(outdir, exist_ok=True)
    video = os.path.abspath(video)
    os.chdir(outdir)  # fer writes data.csv into the working folder
    detector = FER(mtcnn=True)
    Video(video, outdir=".").analyze(
        detector,
        display=False,
        frequency=1,
        save_frames=False,
        save_video=True,
        annotate_frames=True,
        zip_images=False,
    )


def run_feelinvideo(args: list[str]) -> None:
    from feelinvideo.cli import main

    try:
        main(args, standalone_mode=False)
    except SystemExit as exc:  # pragma: no cover - click exits on errors
        if exc.code:
            raise


if __name__ == "__main__":
    result_path, tool, *rest = sys.argv[1:]
    start = time.perf_counter()
    if tool == "fer":
        run_fer(*rest)
    else:
        run_feelinvideo(rest)
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(result_path, "w") as handle:
        json.dump({"tool": tool, "wall_s": wall, "peak_mib": peak_mib}, handle)
