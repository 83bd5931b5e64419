"""Publish a clip as a live MPEG-TS stream at real-time pace (PyAV only, no ffmpeg binary).

What a camera or an encoder on the network does, for ``feelinvideo watch`` tests and
benchmarks on loopback: the clip is decoded, optionally scaled, looped, re-encoded to H.264
(ultrafast, zerolatency, a keyframe a second so a reader can join at any moment) and muxed
into MPEG-TS sent to ``udp://HOST:PORT`` (or written to any URL FFmpeg's muxer opens), each
frame when its time comes on the wall clock.

Usage: python bench/publish.py CLIP URL [--seconds S] [--size WxH] [--fps F] [--copy]

``--copy`` sends the clip's own packets (no decoding or encoding: for benchmarks, where the
publisher must not take CPU from the analysis).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def looped_frames(path: Path, size: tuple[int, int] | None = None):
    """``(t, RGB frame)`` of ``path`` forever, ``t`` in seconds going on across loops."""
    import av
    import cv2

    offset = 0.0
    while True:
        last = 0.0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            fps = float(stream.average_rate or 25)
            for k, frame in enumerate(container.decode(stream)):
                pts = frame.pts
                t = float(pts * stream.time_base) - start if pts is not None else k / fps
                image = frame.to_ndarray(format="rgb24")
                if size is not None and (image.shape[1], image.shape[0]) != size:
                    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                last = t
                yield offset + t, image
        offset += last + 1.0 / fps


def publish(clip: Path, url: str, seconds: float = 3600.0, size=None, fps: float = 25.0) -> None:
    """Send ``clip`` (looped) to ``url`` as MPEG-TS at real-time pace for ``seconds``."""
    import av

    frames = looped_frames(clip, size)
    t0, first = next(frames)
    height, width = first.shape[:2]
    with av.open(url, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(int(fps))}
        start = time.monotonic()
        n = 0
        next_t = 0.0
        for t, image in frames:
            if t + 1e-6 < next_t:  # resample the clip to ``fps``
                continue
            next_t = (n + 1) / fps
            if n / fps >= seconds:
                break
            wait = start + n / fps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
        for packet in stream.encode(None):
            out.mux(packet)


def publish_copy(clip: Path, url: str, seconds: float = 3600.0) -> None:
    """Send ``clip``'s own H.264 packets (looped, no re-encoding: no CPU taken from the
    analysis being measured) to ``url`` as MPEG-TS, each when its time comes."""
    import av

    with av.open(url, "w", format="mpegts") as out:
        start = time.monotonic()
        offset = 0.0
        ostream = None
        while offset < seconds:
            last = 0.0
            with av.open(str(clip)) as inp:
                stream = inp.streams.video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(stream)
                tb = stream.time_base
                step = 1.0 / float(stream.average_rate or 25)
                shift = int(round(offset / tb))
                for packet in inp.demux(stream):
                    if packet.dts is None:
                        continue
                    t = float(packet.dts * tb)
                    last = max(last, float(packet.pts * tb) if packet.pts is not None else t)
                    if offset + t >= seconds:
                        return
                    wait = start + offset + t - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    packet.dts += shift
                    if packet.pts is not None:
                        packet.pts += shift
                    packet.stream = ostream
                    out.mux(packet)
            offset += last + step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--size", help="WxH, e.g. 1280x720 (default: the clip's)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--copy", action="store_true", help="send the clip's packets as they are")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    if args.copy:
        publish_copy(args.clip, args.url, args.seconds)
    else:
        publish(args.clip, args.url, args.seconds, size, args.fps)


if __name__ == "__main__":
    main()
