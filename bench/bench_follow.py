"""Benchmark: following faces between sampled frames, against a per-frame run of the detector.

The overlay draws every frame, the analysis finds faces on its sampled frames only (every
``--every`` seconds). This measures, on the street clip (1920x1080, 105 frames, people
walking toward the camera) and optionally the first seconds of the classroom mosaic, how
well each way of placing a face between samples agrees with MTCNN run on every frame (at
the same ``--min-face``: the reference), and what it costs:

- ``hold``: the rule before issue 23: a face whose track is in both samples moves linearly
  from one box to the other, any other face stays where it was last seen;
- ``flow forward``: median flow (:func:`feelinvideo.outputs.overlay.flow.flow_boxes`)
  from each sample until the next one;
- OpenCV's trackers, one per face, forward from each sample, on the same scaled frames:
  ``cv2.TrackerMIL`` (OpenCV's main modules) and, where opencv-contrib-python is
  installed instead of opencv-python, ``cv2.legacy.TrackerMOSSE``, ``cv2.TrackerKCF``,
  ``cv2.legacy.TrackerMedianFlow`` and ``cv2.TrackerCSRT``;
- ``flow both ways``: what the overlay does
  (:class:`feelinvideo.outputs.overlay.follow.FaceFollower`: forward and backward,
  blended, faces a sample missed carried once);
- ``flow both ways + detector``: the ``blur`` style: the same, plus the detector's faces on
  every frame that is not sampled;
- ``yunet every frame``: the other per-frame detector pass (needs ``feelinvideo[yunet]``).

Columns: the reference faces (every frame); the share with a drawn box on them (one-to-one,
IoU > 0) whose centre is within a quarter of the face's width; the share at least 90%
inside the blurred areas (each box grown by 20% of its side, as the blur draws it); boxes
drawn a frame; milliseconds of CPU and of wall time a frame for the following alone
(frames decoded beforehand; the follower's own decoding is the ``decode`` row).

Usage: python bench/bench_follow.py [--every 1] [--mosaic-seconds 0] [--min-face 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# YuNet in this process, so that its CPU time is counted with the rest
os.environ.setdefault("FEELINVIDEO_YUNET_PROCESS", "0")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT  # noqa: E402
from mosaic import DATA, build_mosaic  # noqa: E402

PAD = 0.2  # the blur's growth of each box (BlurAnnotator.pad)


def hold(samples, times):
    """Boxes per frame by the rule before issue 23 (linear between two boxes of one track,
    else held)."""
    out, pos = [], -1
    for t in times:
        while pos + 1 < len(samples) and samples[pos + 1].timestamp_s <= t + 1e-6:
            pos += 1
        if pos < 0:
            out.append(np.zeros((0, 4)))
            continue
        before = samples[pos]
        after = samples[pos + 1] if pos + 1 < len(samples) else None
        xyxy = before.faces.xyxy.astype(np.float64).copy()
        if after is not None:
            span = after.timestamp_s - before.timestamp_s
            w = min(1.0, max(0.0, (t - before.timestamp_s) / span)) if span > 0 else 0.0
            later = {int(k): j for j, k in enumerate(after.faces.tracker_id) if k >= 0}
            for i, k in enumerate(before.faces.tracker_id):
                if k >= 0 and int(k) in later:
                    xyxy[i] = (1 - w) * xyxy[i] + w * after.faces.xyxy[later[int(k)]]
        out.append(xyxy)
    return out


def intervals(samples, times):
    """(first frame, end frame) of each sample's interval (the frame of the next sample,
    or the number of frames), by the overlay's rule (latest sample at or before)."""
    starts = []
    for s in samples:
        k = next(i for i, t in enumerate(times) if t + 1e-6 >= s.timestamp_s)
        starts.append(k)
    return list(zip(starts, starts[1:] + [len(times)]))


def flow_forward(samples, times, grays, scale):
    from feelinvideo.outputs.overlay.flow import follow_boxes as _path

    out = [np.zeros((0, 4))] * len(times)
    for s, (f0, f1) in zip(samples, intervals(samples, times)):
        path = _path(grays[f0:f1], s.faces.xyxy * scale, backward=False)
        for k in range(f1 - f0):
            alive = np.isfinite(path[k, :, 0])
            out[f0 + k] = path[k, alive] / scale
    return out


def opencv_tracker(make, samples, times, rgbs, scale):
    out = [np.zeros((0, 4))] * len(times)
    for s, (f0, f1) in zip(samples, intervals(samples, times)):
        trackers, boxes = [], []
        for x1, y1, x2, y2 in s.faces.xyxy * scale:
            tracker = make()
            box = (int(x1), int(y1), max(1, int(x2 - x1)), max(1, int(y2 - y1)))
            tracker.init(rgbs[f0], box)
            trackers.append(tracker)
            boxes.append(np.array([x1, y1, x2, y2]))
        alive = [True] * len(trackers)
        out[f0] = s.faces.xyxy.astype(np.float64)
        for k in range(f0 + 1, f1):
            for i, tracker in enumerate(trackers):
                if alive[i]:
                    ok, (x, y, w, h) = tracker.update(rgbs[k])
                    alive[i] = bool(ok)
                    if ok:
                        boxes[i] = np.array([x, y, x + w, y + h])
            kept = [b for b, a in zip(boxes, alive) if a]
            out[k] = np.array(kept).reshape(-1, 4) / scale
    return out


def score(drawn, reference, shape):
    """(reference faces, within a quarter width, at least 90% inside the blur, labelled boxes
    a frame); ``drawn``: per frame the labelled boxes, or ``(labelled, blurred only)``."""
    from scipy.optimize import linear_sum_assignment

    from feelinvideo.faces import box_iou

    faces = near = covered = boxes = 0
    for mine, ref in zip(drawn, reference):
        blurred = mine
        if isinstance(mine, tuple):
            mine, extra = mine
            blurred = np.concatenate([mine, extra])
        mine = np.asarray(mine, np.float64).reshape(-1, 4)
        boxes += len(mine)
        faces += len(ref)
        mask = np.zeros(shape, bool)
        for x1, y1, x2, y2 in np.asarray(blurred, np.float64).reshape(-1, 4):
            g = PAD * max(x2 - x1, y2 - y1)
            mask[
                max(0, int(y1 - g)) : int(np.ceil(y2 + g)),
                max(0, int(x1 - g)) : int(np.ceil(x2 + g)),
            ] = True
        for x1, y1, x2, y2 in ref:
            cut = mask[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))]
            covered += cut.size == 0 or cut.mean() >= 0.9
        if len(mine) and len(ref):
            iou = box_iou(mine, ref)
            rows, cols = linear_sum_assignment(-iou)
            for i, j in zip(rows, cols):
                if iou[i, j] > 0:
                    d = np.linalg.norm((mine[i, :2] + mine[i, 2:] - ref[j, :2] - ref[j, 2:]) / 2)
                    near += d <= 0.25 * (ref[j, 2] - ref[j, 0])
    n = max(1, faces)
    return faces, near / n, covered / n, boxes / max(1, len(drawn))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def detect_all(detector, images, batch: int = 4) -> list[np.ndarray]:
    """The boxes ``detector`` finds on every image, ``batch`` images a call."""
    return [
        f.xyxy for k in range(0, len(images), batch) for f in detector.detect(images[k : k + batch])
    ]


def measure(name: str, video: Path, every_s: float, min_face: float) -> None:
    """Print the table of one clip."""
    import av
    import cv2

    import feelinvideo
    from feelinvideo.models.mtcnn import MtcnnDetector
    from feelinvideo.outputs.overlay.flow import tracking_scale
    from feelinvideo.outputs.overlay.follow import FaceFollower, small_gray
    from feelinvideo.settings import AnalyzeOptions
    from feelinvideo.specs import BackendSpec
    from feelinvideo.video import iter_frames

    spec = BackendSpec(min_face_px=min_face)
    options = AnalyzeOptions(every_s=every_s, write_video=False)
    analysis = feelinvideo.analyze(video, backend=spec, options=options)
    samples, info = analysis.samples, analysis.info
    scale = tracking_scale(min_face, samples)  # as the overlay follows them
    factor = round(1 / scale)
    images = [f.image for f in iter_frames(video)]
    times = [f.timestamp_s for f in iter_frames(video)]
    n = len(images)
    mtcnn = MtcnnDetector(min_face_px=min_face)
    mtcnn.detect(images[:1])  # the networks loaded before timing
    reference, ref_cpu, ref_wall = timed(lambda: detect_all(mtcnn, images))
    size = (info.width // factor, info.height // factor)
    small = [
        cv2.resize(
            image[: size[1] * factor, : size[0] * factor], size, interpolation=cv2.INTER_AREA
        )
        for image in images
    ]
    grays = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in small]
    bgrs = [cv2.cvtColor(image, cv2.COLOR_RGB2BGR) for image in small]
    rows = []

    def add(label, result, cpu, wall):
        faces, near, covered, boxes = score(result, reference, (info.height, info.width))
        rows.append((label, faces, near, covered, boxes, 1000 * cpu / n, 1000 * wall / n))

    add("hold (before)", *timed(lambda: hold(samples, times)))
    add("flow forward", *timed(lambda: flow_forward(samples, times, grays, scale)))
    trackers = {  # MIL is in OpenCV's main modules; the others need opencv-contrib-python
        "OpenCV MIL forward": ("TrackerMIL_create",),
        "OpenCV MOSSE forward": ("legacy", "TrackerMOSSE_create"),
        "OpenCV KCF forward": ("TrackerKCF_create",),
        "OpenCV MedianFlow forward": ("legacy", "TrackerMedianFlow_create"),
        "OpenCV CSRT forward": ("TrackerCSRT_create",),
    }
    for label, names in trackers.items():
        make = cv2
        for attribute in names:
            make = getattr(make, attribute, None)
        if make is None:
            print(f"({label} left out: needs opencv-contrib-python)", file=sys.stderr)
            continue
        add(label, *timed(lambda make=make: opencv_tracker(make, samples, times, bgrs, scale)))

    def decode():
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                small_gray(frame, factor)

    _, dec_cpu, dec_wall = timed(decode)

    def follower(detect=None):
        with FaceFollower(video, samples, (info.width, info.height), scale, detect) as f:
            return [(x.faces.xyxy, x.hidden.xyxy) for x in f]

    result, cpu, wall = timed(follower)
    add("flow both ways (the overlay)", result, cpu - dec_cpu, wall - dec_wall)
    result, cpu, wall = timed(lambda: follower(mtcnn.detect))
    add("flow both ways + detector (blur)", result, cpu - dec_cpu, wall - dec_wall)
    boxes = sum(len(r) for r in reference)
    rows.append(
        ("MTCNN every frame (the reference)", boxes, 1.0, 1.0, boxes / n,
         1000 * ref_cpu / n, 1000 * ref_wall / n)
    )  # fmt: skip
    try:
        yunet = BackendSpec(min_face_px=min_face, detector="yunet").build().detector
        yunet.detect(images[:1])
        add("YuNet every frame", *timed(lambda: detect_all(yunet, images)))
    except feelinvideo.FeelinvideoError as exc:
        print(f"(YuNet left out: {exc})", file=sys.stderr)
    print(
        f"\n{name}: {n} frames, {len(samples)} samples (every {every_s:g} s), followed at "
        f"1/{factor} scale, "
        f"decoding + grey images {1000 * dec_cpu / n:.1f} ms CPU / "
        f"{1000 * dec_wall / n:.1f} ms wall a frame\n"
    )
    print(
        "| way | reference faces | within ¼ face width | ≥ 90% blurred | boxes/frame "
        "| CPU ms/frame | wall ms/frame |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, faces, near, covered, boxes, cpu, wall in rows:
        print(
            f"| {label} | {faces} | {near:.1%} | {covered:.1%} | {boxes:.1f} "
            f"| {cpu:.1f} | {wall:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--min-face", type=float, default=40.0)
    parser.add_argument("--mosaic-seconds", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    measure(
        "street clip (1920x1080)", DATA / "facenet-pytorch" / "video.mp4", args.every, args.min_face
    )
    if args.mosaic_seconds > 0:
        path = build_mosaic(
            args.mosaic_seconds, args.out / f"mosaic_{int(args.mosaic_seconds)}s.mp4"
        )
        name = f"classroom mosaic, first {args.mosaic_seconds:g} s (1280x720)"
        measure(name, path, args.every, args.min_face)


if __name__ == "__main__":
    main()
