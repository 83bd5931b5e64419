"""The overlay video: the input re-decoded, each frame drawn on by a
:class:`~feelinvideo.outputs.overlay.annotators.FaceOverlay`, encoded H.264 / yuv420p with
PyAV (FFmpeg inside the wheel, no ``ffmpeg`` binary), keeping the input's audio track.
Output goes to a temporary file renamed at the end.

Between two sampled frames, a face whose track is in both moves linearly from its first box
to its second (:func:`faces_between`), so boxes and blur follow a moving face instead of
jumping once per sample.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...errors import OutputError, VideoError
from ...faces import Faces, Sample
from ...video import probe, upright, video_streams
from .annotators import FaceOverlay

#: errno values that mean the output could not be written (not that the input is bad).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
#: audio codecs an MP4 file can carry as they are; others are re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}


def write_overlay(
    video_path: str | os.PathLike,
    out_path: str | os.PathLike,
    overlays: Sequence[Sample],
    progress: Callable[[float], None] | None = None,
    size: tuple[int, int] | None = None,
    style: str = "emoji",
) -> None:
    """Write the overlay video, upright (the input's display matrix applied).

    Args:
        video_path: the input video.
        out_path: the ``.mp4`` to write (written to ``<name>.part.mp4`` then renamed).
        overlays: the analysis's :class:`~feelinvideo.faces.Sample` per sampled frame, in
            time order; the faces of the latest one at or before each frame's time are
            drawn on it.
        progress: called with each frame's timestamp in seconds.
        size: the upright ``(width, height)`` in pixels, as
            :func:`feelinvideo.video.probe` reports it (probed when None).
        style: ``"emoji"``, ``"box"`` or ``"blur"`` (see
            :class:`~feelinvideo.outputs.overlay.annotators.FaceOverlay`).

    Raises:
        ValueError: an unknown style.
        VideoError: the input cannot be decoded.
        OutputError: the output cannot be written.
    """
    import av

    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.stem + ".part" + out_path.suffix)
    annotator = FaceOverlay(style)
    if size is None:
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
                after = overlays[pos + 1] if pos + 1 < len(overlays) else None
                faces, hidden = faces_between(overlays[pos], after, t)
                annotator.annotate(image, faces, hidden=hidden)
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


def faces_between(before: Sample, after: Sample | None, t: float) -> tuple[Faces, Faces]:
    """The faces to draw at time ``t`` seconds, between sampled frames ``before`` and
    ``after`` (None after the last one).

    Returns:
        ``(faces, hidden)``: ``faces`` are ``before``'s, each whose ``tracker_id`` (>= 0) is
        also in ``after`` moved linearly from its box toward its box there; ``hidden`` are
        ``after``'s faces not drawn from ``before`` (new tracks, or all of them when faces
        are not tracked), which the blur style covers already, so that no face shows
        unblurred for up to one sampling interval.
    """
    faces = before.faces
    if after is None:
        return faces, Faces.empty()
    span = after.timestamp_s - before.timestamp_s
    w = min(1.0, max(0.0, (t - before.timestamp_s) / span)) if span > 0 else 0.0
    ids = faces.tracker_id
    later = {int(tid): j for j, tid in enumerate(after.faces.tracker_id) if tid >= 0}
    matched = np.array([tid >= 0 and int(tid) in later for tid in ids], dtype=bool)
    if matched.any() and w > 0:
        xyxy = faces.xyxy.copy()
        for i in np.flatnonzero(matched):
            xyxy[i] = (1 - w) * xyxy[i] + w * after.faces.xyxy[later[int(ids[i])]]
        faces = replace(faces, xyxy=xyxy, embedding=None)
    drawn = {int(tid) for tid in ids if tid >= 0}
    new = np.array([tid < 0 or int(tid) not in drawn for tid in after.faces.tracker_id], bool)
    return faces, after.faces[new]
