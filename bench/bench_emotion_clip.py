"""Benchmark: what the crop rule does to the emotions read on a real, unlabelled clip.

The companion of ``bench_emotion_crops.py``, whose scenes are labelled FER-2013 crops pasted
into real frames: here the faces are real (facenet-pytorch's street clip by default: about
ten pedestrians walking toward the camera, 1080p, faces of 40-90 px), but nothing says what
they feel, so it shows how far each rule moves the shares, not which is right. MTCNN finds
the faces once (``--every`` seconds apart); each rule cuts and scores the same boxes.

Prints, per rule, the share of faces whose top emotion is each of the seven, and the mean
happy + surprise and angry + disgust + fear + sad per face (what the verdict sums). With
``--expect neutral,happy`` (what a clip's description says it shows, e.g. ``fer/woman2.mp4``,
"neutral then smiling", in ../shared/data/README.md) it also prints the share of faces read
as one of those: a weak label, one person's faces, but a real one.

Usage: python bench/bench_emotion_clip.py [VIDEO] [--every 0.2] [--expect E1,E2]
           [--rule margin=0.05,shift_y=-0.05,align=1,mirror=1 ...]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FEELINVIDEO_DATA", ROOT.parent / "shared" / "data"))


def parse_rule(text: str):
    """``"margin=0.05,shift_y=-0.05,align=1"`` -> the :class:`CropRule`."""
    from feelinvideo.models.fer import CropRule

    values = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        values[key] = bool(int(value)) if key in ("mirror", "align") else float(value)
    return CropRule(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=DATA / "facenet-pytorch/video.mp4")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--expect", default="", help="emotions the clip shows, e.g. neutral,happy")
    parser.add_argument(
        "--rule",
        type=parse_rule,
        action="append",
        default=[],
        help="a further rule, e.g. margin=0.05,shift_y=-0.05,align=1,mirror=1",
    )
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"{args.video}: no such video (../shared/data is absent?)")
    from feelinvideo.backends.local import LocalBackend
    from feelinvideo.models.fer import BOX_RULE, CROP_RULE, FER_RULE, CropRule
    from feelinvideo.schema import EMOTIONS, NEGATIVE, POSITIVE
    from feelinvideo.video import iter_frames

    backend = LocalBackend()
    frames = [f.image for f in iter_frames(args.video, args.every)]
    found = backend.detector.detect(frames)
    boxes, points = [f.xyxy for f in found], [f.landmarks for f in found]
    sides = np.concatenate([np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) for b in boxes])
    print(
        f"{args.video.name}: {len(frames)} frames, {len(sides)} faces, face_px "
        f"{np.percentile(sides, 10):.0f}-{np.percentile(sides, 90):.0f} (10th-90th percentile)"
    )
    rules = {"fer 10 px (before)": FER_RULE, "box": BOX_RULE}
    for margin in (0.05, 0.1, 0.15, 0.2):
        rules[CropRule(margin=margin).describe()] = CropRule(margin=margin)
    for shift in (-0.1, -0.05):
        for align in (False, True):
            for mirror in (False, True):
                rule = CropRule(shift_y=shift, align=align, mirror=mirror)
                rules[rule.describe()] = rule
    rules[CropRule(align=True).describe()] = CropRule(align=True)
    rules[CropRule(margin=0.1, mirror=True).describe()] = CropRule(margin=0.1, mirror=True)
    for extra in args.rule:
        rules[extra.describe()] = extra
    rules[CROP_RULE.describe()] = CROP_RULE
    rules = {(f"{k} (chosen)" if r == CROP_RULE else k): r for k, r in rules.items()}
    expect = [EMOTIONS.index(e.strip()) for e in args.expect.split(",") if e.strip()]
    pos = [EMOTIONS.index(e) for e in POSITIVE]
    neg = [EMOTIONS.index(e) for e in NEGATIVE]
    for name, rule in rules.items():
        scores = np.concatenate(backend.emotions.score_frames(frames, boxes, rule, points))
        shares = np.bincount(scores.argmax(axis=1), minlength=len(EMOTIONS)) / len(scores)
        print(
            f"  {name:<40} "
            + " ".join(f"{e} {100 * s:.0f}%" for e, s in zip(EMOTIONS, shares, strict=True))
            + f" | positive {100 * scores[:, pos].sum(1).mean():.0f}%,"
            f" negative {100 * scores[:, neg].sum(1).mean():.0f}%"
            + (
                f" | read as {args.expect}: {100 * np.isin(scores.argmax(1), expect).mean():.0f}%"
                if expect
                else ""
            )
        )


if __name__ == "__main__":
    main()
