"""Benchmark: what who-is-who costs on a classroom clip (issue 9's goal: at most +25%).

On the 2-minute 1280x720 mosaic of four real clips (4 faces a frame; ``bench/mosaic.py``),
1 sample a second, no overlay, each run a fresh process (model loading included):

1. ``feelinvideo analyze --no-identity``: the reference;
2. ``feelinvideo analyze`` with identity at each ``--reembed-every`` given (default 5 s).

Prints wall times, the overhead of identity against run 1 in the same session, and the
embeddings computed per track and per face (from summary.json). Compare ratios, not
seconds: this machine's speed varies between days.

Usage: python bench/bench_identity_mosaic.py [--seconds 120] [--reembed 1 5 10] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT, measure  # noqa: E402
from mosaic import build_mosaic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--reembed", type=float, nargs="+", default=[5.0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    clip = build_mosaic(args.seconds, out / f"mosaic_{int(args.seconds)}s.mp4")
    common = [str(clip), "--no-video", "-q", "--no-gallery", "--every", "1"]
    base = measure(
        out,
        "mosaic_no_identity",
        "feelinvideo",
        "analyze",
        *common,
        "--no-identity",
        "--out",
        str(out / "mosaic_no_identity"),
    )
    print(f"mosaic {args.seconds:.0f} s, 1 sample/s, --no-identity: {base['wall_s']:.1f} s")
    for every in args.reembed:
        run_dir = out / f"mosaic_identity_{every:g}"
        run = measure(
            out,
            f"mosaic_identity_{every:g}",
            "feelinvideo",
            "analyze",
            *common,
            "--reembed-every",
            str(every),
            "--out",
            str(run_dir),
        )
        ident = json.loads((run_dir / "summary.json").read_text())["identity"]
        overhead = run["wall_s"] / base["wall_s"] - 1
        print(
            f"identity, --reembed-every {every:g}: {run['wall_s']:.1f} s, overhead "
            f"{100 * overhead:+.0f}% (goal <= +25%); {ident['embeddings_computed']} embeddings "
            f"for {ident['tracks']} tracks ({ident['embeddings_per_track']:.1f} a track, "
            f"{ident['embeddings_per_face']:.3f} a face), {ident['cuts']} cuts; people "
            f"{json.loads((run_dir / 'summary.json').read_text())['people_count']}"
        )


if __name__ == "__main__":
    main()
