"""The emoji overlay video: each face covered by the emoji of its dominant emotion.

:class:`EmojiAnnotator` draws on one frame (``annotate(scene, ...)``, in the style of
supervision's annotators). :func:`write_overlay` re-decodes the video, draws the
overlay of the latest sampled frame on every frame until the next sampled one, and
encodes H.264 / yuv420p with PyAV (FFmpeg inside the wheel, no ``ffmpeg`` binary),
keeping the input's audio track. Output goes to a temporary file renamed at the end.

The emoji PNGs in ``feelinvideo/emoji/`` are drawn by this project
(``scripts/draw_emoji.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import OutputError, VideoError
from ..faces import Faces, Sample
from ..schema import EMOTIONS

EMOJI_DIR = Path(__file__).resolve().parents[1] / "emoji"
#: errno values that mean the output could not be written (not that the input is bad).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
#: audio codecs an MP4 file can carry as they are; others are re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}


class EmojiAnnotator:
    """Covers each face box with the emoji of its dominant emotion, plus a text label
    (supervision's annotator style: ``annotate(scene, faces) -> scene``).

    Raises:
        OutputError: an emoji image is missing from the installed package.
    """

    def __init__(self) -> None:
        import cv2

        self._emoji = {}
        for name in EMOTIONS:
            bgra = cv2.imread(str(EMOJI_DIR / f"{name}.png"), cv2.IMREAD_UNCHANGED)
            if bgra is None:  # pragma: no cover - files ship with the package
                raise OutputError(f"{EMOJI_DIR / name}.png: emoji image missing from the package")
            self._emoji[name] = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _sized(self, name: str, side: int) -> np.ndarray:
        import cv2

        key = (name, side)
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = cv2.resize(
                self._emoji[name], (side, side), interpolation=cv2.INTER_AREA
            )
        return self._cache[key]

    def annotate(self, scene: np.ndarray, faces: Faces) -> np.ndarray:
        """Draw ``faces`` onto ``scene`` (RGB uint8 (H, W, 3), changed in place); return it.

        Each face box is covered by the emoji of its dominant emotion (of the track-smoothed
        scores when known, :attr:`Faces.display_scores`), with the label
        ``[person: ]emotion score`` above it (below when there is no room).
        """
        import cv2

        h, w = scene.shape[:2]
        shown = faces.display_scores
        dominant = np.argmax(np.nan_to_num(shown, nan=-1.0), axis=1) if len(faces) else []
        for (x1, y1, x2, y2), idx, row, name in zip(faces.xyxy, dominant, shown, faces.person):
            score = float(row[idx])
            emotion = EMOTIONS[int(idx)]
            side = int(round(max(x2 - x1, y2 - y1)))
            if side < 4:
                continue
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
            emoji = self._sized(emotion, side)
            sx0, sy0 = max(0, -left), max(0, -top)
            dx0, dy0 = max(0, left), max(0, top)
            dx1, dy1 = min(w, left + side), min(h, top + side)
            if dx1 <= dx0 or dy1 <= dy0:
                continue
            patch = emoji[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
            alpha = patch[:, :, 3:4].astype(np.float32) / 255.0
            region = scene[dy0:dy1, dx0:dx1]
            region[:] = (patch[:, :, :3] * alpha + region * (1.0 - alpha)).astype(np.uint8)
            label = f"{emotion} {score:.2f}"
            if name:
                label = f"{name}: {label}"
            # text grows with the face, but never below a size readable at the frame's height
            frame_scale = max(1.0, h / 720)
            font_scale = max(0.45, 0.6 * frame_scale, min(1.2 * frame_scale, side / 250))
            thick = 1 if font_scale < 0.8 else 2
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thick)
            tx = int(min(max(0, left), max(0, w - tw - 4)))
            ty = top - 6 if top - th - base - 6 >= 0 else min(h - base - 2, top + side + th + 4)
            cv2.rectangle(scene, (tx, ty - th - 4), (tx + tw + 4, ty + base), (0, 0, 0), -1)
            cv2.putText(
                scene,
                label,
                (tx + 2, ty - 2),
                cv2.FONT_HERSHEY_SIMPLEX,
                font_scale,
                (255, 255, 255),
                thick,
                cv2.LINE_AA,
            )
        return scene


def write_overlay(
    video_path: str | os.PathLike,
    out_path: str | os.PathLike,
    overlays: Sequence[Sample],
    progress: Callable[[float], None] | None = None,
    size: tuple[int, int] | None = None,
) -> None:
    """Write the emoji overlay video, upright (the input's display matrix applied).

    Args:
        video_path: the input video.
        out_path: the ``.mp4`` to write (written to ``<name>.part.mp4`` then renamed).
        overlays: the analysis's :class:`~feelinvideo.faces.Sample` per sampled frame, in
            time order; the faces of the latest one at or before each frame's time are
            drawn on it.
        progress: called with each frame's timestamp in seconds.
        size: the upright ``(width, height)`` in pixels, as
            :func:`feelinvideo.video.probe` reports it (probed when None).

    Raises:
        VideoError: the input cannot be decoded.
        OutputError: the output cannot be written.
    """
    import av

    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.stem + ".part" + out_path.suffix)
    annotator = EmojiAnnotator()
    if size is None:
        from ..video import probe

        info = probe(video_path)
        size = (info.width, info.height)
    try:
        src = av.open(str(video_path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{video_path}: cannot be decoded ({exc})") from None
    try:
        try:
            dst = av.open(str(tmp), mode="w", format="mp4")
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{tmp}: cannot write the overlay video ({exc})") from None
        try:
            _transcode(src, dst, overlays, annotator, progress, size)
            dst.close()  # writes the index: a full disk shows here
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
                raise OutputError(f"{out_path}: cannot write ({exc.strerror or exc})") from None
            raise VideoError(f"{video_path}: decoding or encoding failed ({exc})") from None
        except OSError as exc:
            raise OutputError(f"{out_path}: cannot write ({exc.strerror or exc})") from None
        finally:
            with contextlib.suppress(Exception):
                dst.close()
        tmp.replace(out_path)
    finally:
        src.close()
        if tmp.exists():
            tmp.unlink()


def _transcode(src, dst, overlays, annotator, progress, size) -> None:
    import av

    from ..video import upright, video_streams

    vin = video_streams(src)[0]
    vin.thread_type = "AUTO"
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    vout = dst.add_stream("libx264", rate=rate)
    width, height = size[0] // 2 * 2, size[1] // 2 * 2  # upright; H.264 wants even sides
    vout.width, vout.height = width, height
    vout.pix_fmt = "yuv420p"
    vout.time_base = vin.time_base
    vout.codec_context.time_base = vin.time_base
    vout.options = {"preset": "veryfast", "crf": "23", "movflags": "+faststart"}
    ain = src.streams.audio[0] if src.streams.audio else None
    aout = resampler = None
    if ain is not None:
        if ain.codec_context.name in MP4_AUDIO:
            aout = dst.add_stream_from_template(ain)
        else:
            aout = dst.add_stream("aac", rate=ain.codec_context.sample_rate or 44100)
            resampler = True
    start = vin.start_time or 0
    streams = [vin] + ([ain] if ain is not None else [])
    pos = -1
    last_pts = None
    for packet in src.demux(*streams):
        if packet.stream is ain:
            if packet.dts is None:
                continue
            if resampler:
                for aframe in packet.decode():
                    aframe.pts = None
                    for out_packet in aout.encode(aframe):
                        dst.mux(out_packet)
            else:
                packet.stream = aout
                dst.mux(packet)
            continue
        for frame in packet.decode():
            t = float((frame.pts - start) * vin.time_base) if frame.pts is not None else 0.0
            while pos + 1 < len(overlays) and overlays[pos + 1].timestamp_s <= t + 1e-6:
                pos += 1
            image = upright(frame)
            if pos >= 0:
                annotator.annotate(image, overlays[pos].faces)
            if image.shape[0] != height or image.shape[1] != width:
                image = np.ascontiguousarray(image[:height, :width])
            out = av.VideoFrame.from_ndarray(image, format="rgb24")
            pts = (
                frame.pts - start
                if frame.pts is not None
                else (0 if last_pts is None else last_pts + 1)
            )
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1
            out.pts, last_pts = pts, pts
            out.time_base = vin.time_base
            for out_packet in vout.encode(out):
                dst.mux(out_packet)
            if progress is not None:
                progress(t)
    for out_packet in vout.encode(None):
        dst.mux(out_packet)
    if resampler:
        for out_packet in aout.encode(None):
            dst.mux(out_packet)
