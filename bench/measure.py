"""Run one command in-process; write its wall time and peak memory as JSON to RESULT.json.

Usage: python bench/measure.py RESULT.json fer VIDEO OUTDIR
       python bench/measure.py RESULT.json feelinvideo ARGS...
"""

from __future__ import annotations

import json
import resource
import sys
import time


def fer_opencv5_shim() -> None:
    """Let fer 22.4.0 run on OpenCV 5, in this process only (fer's files are not touched).

    fer's ``FER.find_faces`` starts with ``isinstance(self.__face_detector,
    cv2.CascadeClassifier)`` whatever the detector; OpenCV 5 has no ``cv2.CascadeClassifier``
    in its main modules (the venv holds opencv-python 5.1.0), so every ``detect_emotions``
    raised AttributeError. ``Video.analyze`` logs that error and leaves its loop at the first
    frame, then fails in ``_to_dict`` with ``IndexError: list index out of range`` on its
    empty results: the IndexError of the last round. With ``FER(mtcnn=True)`` fer never
    builds a cascade, so an empty stand-in class makes the check false and fer runs its
    MTCNN as it does on OpenCV 4."""
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        cv2.CascadeClassifier = type("CascadeClassifier", (), {})


def run_fer(video: str, outdir: str) -> None:
    """fer 22.4.0's own pipeline: MTCNN + emotion model on every frame, annotated video written.

    Raises:
        RuntimeError: fer analysed no frame with a face (its errors are only logged).
    """
    import os

    fer_opencv5_shim()
    from fer import FER, Video

    os.makedirs(outdir, exist_ok=True)
    video = os.path.abspath(video)
    os.chdir(outdir)  # fer writes data.csv into the working folder
    detector = FER(mtcnn=True)
    clip = Video(video, outdir=".")
    try:
        clip.analyze(
            detector,
            display=False,
            frequency=1,
            save_frames=False,
            save_video=True,
            annotate_frames=True,
            zip_images=False,
        )
    except IndexError as exc:  # fer's _to_dict on no results: say why
        raise RuntimeError(f"fer analysed no frame with a face ({exc}); see its log") from exc
    print(f"fer: {clip.frameCount} frames analysed", file=sys.stderr)


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
