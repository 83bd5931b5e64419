"""Benchmark: rendering overlay.mp4, against decoding the same video, in one run.

For each clip (the 1280x720 classroom mosaic, ``--mosaic-seconds`` long, built by
bench/mosaic.py; the 1920x1080 street clip), the analysis runs once (every 1 s, not
timed), then in this process, one after the other:

- ``decode only``: PyAV decoding every frame with frame threads, as the renderer decodes;
- each ``--styles`` at each ``--presets`` (x264), written with
  :func:`feelinvideo.outputs.overlay.write_overlay` as ``analyze`` writes it (the ``blur``
  style with the detector on every frame);
- with ``--whole-frames``, the emoji style drawn on whole frames converted to RGB and back
  (how frames were drawn before issue 23), to measure what drawing on yuv420p saves.

Printed per run: wall seconds, CPU seconds (this process and its threads), times real time
(video duration / wall), wall against decoding only, output size, and how the progress
callback followed: calls, and the longest wall-clock wait between two calls.

Usage: python bench/bench_render.py [--mosaic-seconds 180] [--clips mosaic street]
       [--styles emoji box blur] [--presets superfast] [--whole-frames]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analyze import ROOT  # noqa: E402
from mosaic import DATA, build_mosaic  # noqa: E402


def decode_only(video: Path) -> None:
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass


def render(analysis, out: Path, style: str, preset: str) -> dict:
    """Write the overlay; return the progress calls and longest gap between them (s)."""
    from feelinvideo.outputs.overlay import write_overlay
    from feelinvideo.outputs.save import overlay_detector, overlay_detector_spec

    spec = overlay_detector_spec(analysis.backend_spec)
    detect = overlay_detector(spec) if style == "blur" else None
    calls, gaps = [0], [0.0]
    last = [time.perf_counter()]

    def progress(seconds: float) -> None:
        now = time.perf_counter()
        calls[0] += 1
        gaps[0] = max(gaps[0], now - last[0])
        last[0] = now

    write_overlay(
        analysis.video,
        out,
        analysis.samples,
        progress=progress,
        size=(analysis.info.width, analysis.info.height),
        style=style,
        detect=detect,
        min_face_px=spec.min_face_px,
        preset=preset,
    )
    return {"calls": calls[0], "gap": max(gaps[0], time.perf_counter() - last[0])}


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    import numpy as np

    import feelinvideo
    from feelinvideo.outputs.overlay import render as render_module
    from feelinvideo.outputs.save import overlay_detector, overlay_detector_spec
    from feelinvideo.settings import AnalyzeOptions

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mosaic-seconds", type=float, default=180.0)
    parser.add_argument("--clips", nargs="+", default=["mosaic", "street"])
    parser.add_argument("--styles", nargs="+", default=["emoji", "box", "blur"])
    parser.add_argument("--presets", nargs="+", default=[render_module.X264_PRESET])
    parser.add_argument("--whole-frames", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = {}
    if "mosaic" in args.clips:
        path = args.out / f"mosaic_{int(args.mosaic_seconds)}s.mp4"
        name = f"classroom mosaic {args.mosaic_seconds:g} s (1280x720)"
        clips[name] = build_mosaic(args.mosaic_seconds, path)
    if "street" in args.clips:
        clips["street clip 4.2 s (1920x1080)"] = DATA / "facenet-pytorch" / "video.mp4"
    if "blur" in args.styles:  # load the detector's networks before timing
        overlay_detector(overlay_detector_spec(None))([np.zeros((64, 64, 3), np.uint8)])
    print(
        "| clip | run | wall s | CPU s | × real time | wall / decode only | MB "
        "| progress calls | longest wait s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, video in clips.items():
        options = AnalyzeOptions(every_s=1.0, write_video=False)
        analysis = feelinvideo.analyze(video, options=options)
        duration = analysis.info.duration_s
        _, cpu, wall = timed(lambda video=video: decode_only(video))
        decode_wall = wall
        rate = duration / wall
        print(f"| {name} | decode only | {wall:.1f} | {cpu:.1f} | {rate:.2f} | 1.00 | | | |")
        runs = [(style, preset, False) for style in args.styles for preset in args.presets]
        if args.whole_frames:
            runs.append(("emoji", args.presets[0], True))
        for style, preset, whole in runs:
            out = args.out / f"render_{style}_{preset}.mp4"
            if whole:  # frames drawn as before: converted whole to RGB and back
                draw = render_module._Canvas.draw
                render_module._Canvas.draw = _whole_frame_draw
            try:
                got, cpu, wall = timed(
                    lambda a=analysis, s=style, o=out, p=preset: render(a, o, s, p)
                )
            finally:
                if whole:
                    render_module._Canvas.draw = draw
            label = f"{style}, {preset}" + (", whole frames in RGB" if whole else "")
            size = out.stat().st_size / 1e6
            print(
                f"| {name} | {label} | {wall:.1f} | {cpu:.1f} | {duration / wall:.2f} "
                f"| {wall / decode_wall:.2f} | {size:.1f} | {got['calls']} | {got['gap']:.1f} |"
            )


def _whole_frame_draw(self, frame, annotator, layout):
    """:meth:`_Canvas.draw` as frames were drawn before: the whole frame to RGB, drawn on,
    handed to the encoder in RGB (converted back to yuv420p there)."""
    import numpy as np

    from feelinvideo.video import upright

    image = upright(frame)
    if len(layout.faces) or len(layout.hidden):
        annotator.draw(image, layout)
    return np.ascontiguousarray(image[: self.height, : self.width]), "rgb24"


if __name__ == "__main__":
    main()
