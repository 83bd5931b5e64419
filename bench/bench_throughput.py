"""Benchmark: how close analysis runs to the speed of decoding, and against fer.

In one session, each run a fresh process (model loading included), on:

- the classroom mosaic (1280x720, 4 faces a frame, ``--minutes`` long; ``bench/mosaic.py``)
  at 1 sample a second, identity on, no overlay;
- WolfgangLanger_Pexels.mp4 (472 frames, 640x360) every frame, overlay and identity on.

It prints two decode-only times: the issue's reference (PyAV decoding every frame of the
file with ``thread_type="AUTO"``, nothing converted) and decoding as the pipeline does
(sampling, skipping non-reference frames when sparse, converting the samples to RGB);
feelinvideo's time and its ratio to each, with both detectors; where
that time goes, stage by stage (``bench/bench_stages.py``: decode, detect, emotion,
identity, write); peak memory of the mosaic at 1 minute and ``--minutes`` (and twice
that with MTCNN); and fer 22.4.0's own time when fer can be imported
(``pip install -e '.[bench]'``): its ``Video.analyze`` for the clip, its
``detect_emotions`` over ``cv2.VideoCapture`` at 1 frame a second for the mosaic.
Compare ratios, not seconds.

Usage: python bench/bench_throughput.py [--minutes 4] [--skip-fer] [--skip-memory]
       [--detectors mtcnn yunet] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT, measure, sample_video  # noqa: E402
from mosaic import build_mosaic  # noqa: E402

FER_LOOP = """
import json, sys, time, cv2
sys.path.insert(0, sys.argv[2])
from measure import fer_opencv5_shim
fer_opencv5_shim()
from fer import FER
start = time.perf_counter()
detector = FER(mtcnn=True)
cap = cv2.VideoCapture(sys.argv[1]); fps = cap.get(cv2.CAP_PROP_FPS); n = 0; faces = 0
while True:
    ok, frame = cap.read()
    if not ok:
        break
    if n % round(fps) == 0:
        faces += len(detector.detect_emotions(frame))
    n += 1
print(json.dumps({"wall_s": time.perf_counter() - start, "faces": faces}))
"""


def decode_only(video: Path, every: float) -> float:
    """Seconds to decode (and sample) ``video`` as the pipeline does, in a fresh process."""
    code = (
        "import sys, time; from feelinvideo.video import iter_frames; t = time.perf_counter(); "
        "n = sum(1 for _ in iter_frames(sys.argv[1], float(sys.argv[2]))); "
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(video), str(every)], capture_output=True, text=True
    )
    return float(done.stdout.strip())


def decode_every_frame(video: Path) -> float:
    """Seconds for PyAV to decode every frame of ``video`` with frame threads (the issue's
    decode-only reference), in a fresh process."""
    code = (
        "import sys, time, av; t = time.perf_counter(); c = av.open(sys.argv[1]); "
        "s = c.streams.video[0]; s.thread_type = 'AUTO'; n = sum(1 for _ in c.decode(s)); "
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(video)], capture_output=True, text=True)
    return float(done.stdout.strip())


def fer_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import fer"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--skip-fer", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="no peak-memory runs")
    parser.add_argument("--detectors", nargs="+", default=["mtcnn", "yunet"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    use_fer = not args.skip_fer and fer_available()
    mosaic = build_mosaic(60 * args.minutes, out / f"mosaic_{int(60 * args.minutes)}s.mp4")
    clip = sample_video()
    cases = [
        ("mosaic", mosaic, ["--every", "1", "--no-video"], 1.0),
        ("wolfgang", clip, ["--every", "0"], 0.0),
    ]
    # peak memory by video length, one piece (segments would run in worker processes,
    # whose memory this process's peak does not count); batches are smaller for short
    # videos (at least PROGRESS_STEPS of them a video), full from 1 minute on at 720p
    for detector in [] if args.skip_memory else args.detectors:
        peaks = {}
        lengths = (1, args.minutes, 2 * args.minutes) if detector == "mtcnn" else (1, args.minutes)
        for minutes in lengths:
            path = build_mosaic(int(60 * minutes), out / f"mosaic_{int(60 * minutes)}s.mp4")
            run = measure(
                out,
                f"memory_{detector}_{path.stem}",
                "feelinvideo",
                "analyze",
                str(path),
                "-q",
                "--no-gallery",
                "--no-video",
                "--detector",
                detector,
                "--segment",
                "0",
                "--out",
                str(out / f"memory_{detector}_{path.stem}"),
            )
            peaks[minutes] = run["peak_mib"]
        print(
            f"mosaic peak memory (one piece, {detector}): "
            + ", ".join(f"{m:g} min {p:.0f} MiB" for m, p in peaks.items())
            + f"; {args.minutes:g} min / 1 min = {peaks[args.minutes] / peaks[1]:.2f}x"
        )
    for name, video, options, every in cases:
        decode = decode_only(video, every)
        everything = decode_every_frame(video)
        print(
            f"{name}: decode only {everything:.1f} s (every frame, the issue's reference), "
            f"{decode:.1f} s (as the pipeline decodes)"
        )
        for detector in args.detectors:
            run = measure(
                out,
                f"throughput_{name}_{detector}",
                "feelinvideo",
                "analyze",
                str(video),
                "-q",
                "--no-gallery",
                "--detector",
                detector,
                "--out",
                str(out / f"throughput_{name}_{detector}"),
                *options,
            )
            print(
                f"  feelinvideo --detector {detector}: {run['wall_s']:.1f} s "
                f"({run['wall_s'] / everything:.2f}x decoding every frame, "
                f"{run['wall_s'] / decode:.2f}x decoding as the pipeline does), "
                f"peak {run['peak_mib']:.0f} MiB"
            )
        stages = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "bench_stages.py"), str(video), "--every"]
            + [str(every)]
            + (["--no-video"] if "--no-video" in options else []),
            capture_output=True,
            text=True,
        )
        print("  stages (mtcnn, one process): " + stages.stdout.strip().replace("\n", "\n  "))
        if not use_fer:
            print("  fer: skipped (not installed; pip install -e '.[bench]')")
            continue
        if name == "wolfgang":
            try:
                fer = measure(out, "fer", "fer", str(video), str(out / "fer_out"))
            except subprocess.CalledProcessError:
                print("  fer: Video.analyze failed (run bench/measure.py by hand to see why)")
                continue
        else:
            done = subprocess.run(
                [sys.executable, "-c", FER_LOOP, str(video), str(ROOT / "bench")],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                print("  fer: failed: " + done.stderr.strip().splitlines()[-1])
                continue
            fer = json.loads(done.stdout.strip().splitlines()[-1])
        for detector in args.detectors:
            ours = json.loads((out / f"throughput_{name}_{detector}.json").read_text())["wall_s"]
            print(
                f"  fer: {fer['wall_s']:.1f} s; feelinvideo --detector {detector} is "
                f"{fer['wall_s'] / ours:.1f}x faster"
            )


if __name__ == "__main__":
    main()
