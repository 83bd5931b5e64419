"""Benchmark: what tells a face swap from the same face between sampled frames (the tracker's
``MOVED_IOU`` rule, ``identity/tracker.py``).

Two measurements, every face embedded (dlib's descriptor) whatever the tracker decides:

- ``--slideshow SIZES``: bench/bench_identity_sizes.py's slideshow (the knn probes one
  after another, centred in a grey 1280x720 frame, faces SIZE px wide, 1.5 s a photo,
  sampled every 0.5 s). For every face of the first sample of a photo whose box overlaps
  (IoU >= 0.3) a face of the previous photo's last sample, a swap the tracker may take
  for the same face: IoU, the correlation of their 24x24 grey patches, and the distance of
  the new face's embedding to the mean of the previous photo's faces at that place.
- ``--clips VIDEO:EVERY ...``: real clips through the tracker. For every face continuing a
  track (the same ``tracker_id`` in consecutive samples), the same three figures, the
  distance taken to the mean of the track's earlier faces: the same person, by the clip.

Prints one line per swap, then per clip the same-person links with a correlation under
0.6 by IoU band (count and largest distance), and the swaps' ranges.

Usage: python bench/bench_track_links.py [--slideshow 32 54 100 120 160 200]
       [--clips MOSAIC.mp4:1 ../shared/data/facenet-pytorch/video.mp4:0.2 ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SLIDE_S = 1.5


def _figures(image, xyxy):
    from feelinvideo.identity.tracker import face_patches
    from feelinvideo.models.dlib import face_encodings

    return face_encodings(image, xyxy), face_patches(image, xyxy)


def swaps(size: int, tmp: Path) -> list[dict]:
    """Candidate swaps of the slideshow at ``size`` px (see the module docstring)."""
    import bench_identity_sizes as sizes

    from feelinvideo.faces import box_iou
    from feelinvideo.settings import AnalyzeOptions
    from feelinvideo.specs import BackendSpec
    from feelinvideo.stream import analyze_frames

    folder = tmp / f"slides_{size}"
    clip = sizes.write_slideshow(sizes.slideshow_probes(folder / "enrol"), size, folder / "s.mp4")
    backend = BackendSpec(min_face_px=min(40, int(0.75 * size))).build()
    options = AnalyzeOptions(every_s=0.5, identity=False)
    seen: dict[int, list] = {}
    previous, out = None, []
    for frame, faces in analyze_frames(clip, backend, options):
        photo = int(frame.timestamp_s // SLIDE_S)
        if not len(faces):
            previous = None
            continue
        emb, patches = _figures(frame.image, faces.xyxy)
        if previous is not None and previous[0] != photo:
            _, boxes, old_patches = previous
            iou = box_iou(faces.xyxy, boxes)
            for i, j in zip(*np.nonzero(iou >= 0.3), strict=True):
                there = [
                    e
                    for b, e in seen[previous[0]]
                    if box_iou(b[None], boxes[j : j + 1])[0, 0] > 0.5
                ]
                out.append({
                    "size": size, "photo": photo, "iou": float(iou[i, j]),
                    "corr": float((patches[i] * old_patches[j]).mean()),
                    "distance": float(np.linalg.norm(emb[i] - np.mean(there, axis=0))),
                })  # fmt: skip
        seen.setdefault(photo, []).extend(zip(faces.xyxy.copy(), emb, strict=True))
        previous = (photo, faces.xyxy.copy(), patches)
    return out


def links(video: str, every: float) -> list[dict]:
    """The same-person links of a real clip (see the module docstring)."""
    from feelinvideo.faces import box_iou
    from feelinvideo.identity.stage import IdentityStage
    from feelinvideo.settings import AnalyzeOptions
    from feelinvideo.stream import analyze_frames

    stage = IdentityStage(None, thumbnails=False)
    last, sums, out = {}, {}, []
    for frame, faces in analyze_frames(video, None, AnalyzeOptions(every_s=every), stage):
        if not len(faces):
            continue
        emb, patches = _figures(frame.image, faces.xyxy)
        for i, tid in enumerate(int(t) for t in faces.tracker_id):
            if tid in last:
                box, patch = last[tid]
                total, count = sums[tid]
                out.append({
                    "iou": float(box_iou(faces.xyxy[i : i + 1], box[None])[0, 0]),
                    "corr": float((patches[i] * patch).mean()),
                    "distance": float(np.linalg.norm(emb[i] - total / count)),
                    "width": float(faces.xyxy[i, 2] - faces.xyxy[i, 0]),
                })  # fmt: skip
            last[tid] = (faces.xyxy[i].copy(), patches[i])
            total, count = sums.get(tid, (np.zeros(emb.shape[1]), 0))
            sums[tid] = (total + emb[i], count + 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slideshow", type=int, nargs="*", default=[32, 54, 100, 120, 160, 200])
    parser.add_argument("--clips", nargs="*", default=[], help="VIDEO:EVERY_S")
    args = parser.parse_args()
    found = []
    with tempfile.TemporaryDirectory(prefix="feelinvideo-links-") as tmp:
        for size in args.slideshow:
            found += swaps(size, Path(tmp))
    for s in found:
        print(
            f"swap at {s['size']:>3} px, photo {s['photo']}: IoU {s['iou']:.3f}, "
            f"correlation {s['corr']:.3f}, distance {s['distance']:.3f}"
        )
    hard = [s for s in found if s["corr"] >= 0.4]
    if hard:
        print(
            f"swaps with correlation >= 0.4: {len(hard)}, "
            f"IoU <= {max(s['iou'] for s in hard):.3f}, "
            f"distance >= {min(s['distance'] for s in hard):.3f}"
        )
    for spec in args.clips:
        video, every = spec.rsplit(":", 1)
        rows = [r for r in links(video, float(every)) if r["corr"] < 0.6]
        for low, high in ((0.0, 0.6), (0.6, 1.01)):
            band = [r["distance"] for r in rows if low <= r["iou"] < high]
            print(
                f"{Path(video).name} every {every}: correlation < 0.6, "
                f"IoU {low:.1f}-{min(high, 1):.1f}: {len(band)} links"
                f", largest distance {max(band) if band else float('nan'):.3f}"
            )


if __name__ == "__main__":
    main()
