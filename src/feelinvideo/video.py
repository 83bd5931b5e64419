"""Reading videos: probing their facts and streaming frames sampled by video time.

Decoding uses PyAV, whose wheel carries FFmpeg, so no ``ffmpeg`` binary is needed.
Frames are yielded one at a time from a generator; nothing holds the whole video.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VideoError


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        fps: average frame rate in frames per second (> 0).
        duration_s: duration of the video stream in seconds.
        frame_count: number of frames (from the container; estimated from
            ``duration_s * fps`` when the container does not say).
        codec: video codec name (e.g. ``h264``).
        rotation: clockwise degrees (0, 90, 180, 270) the stored frames are turned for
            display (the stream's display matrix, e.g. a phone's ``rotate`` tag); frames
            are yielded upright and ``width`` / ``height`` are the displayed size.
    """

    path: str
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    codec: str
    rotation: int = 0


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        frame_index: 0-based position of the frame in decode order.
        timestamp_s: presentation time in seconds from the start of the stream (>= 0).
        image: uint8 array (height, width, 3), RGB.
    """

    frame_index: int
    timestamp_s: float
    image: np.ndarray


def _check_file(path: Path) -> None:
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            raise VideoError(
                f"{path}: a symbolic link that leads nowhere ({exc.strerror or exc})"
            ) from None
        raise VideoError(f"{path}: no such file") from None
    if stat.S_ISDIR(mode):
        raise VideoError(f"{path}: is a directory, expected a video file")
    if not stat.S_ISREG(mode):
        raise VideoError(f"{path}: not a regular file (a pipe or a device), expected a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: file is empty, expected a video")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: cannot read file (permission denied)")


def _open(path: Path):
    import av

    _check_file(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path}: not a readable video, or corrupt or truncated ({_reason(exc)})"
        ) from None
    if not video_streams(container):
        kind = "only cover art" if container.streams.video else "no video stream"
        container.close()
        raise VideoError(f"{path}: holds {kind}, expected a video")
    return container


def video_streams(container) -> list:
    """The container's video streams that are moving pictures (not an mp3's cover art,
    which FFmpeg lists as a one-frame video stream with the ``attached_pic`` flag)."""
    import av

    attached = av.stream.Disposition.attached_pic
    return [s for s in container.streams.video if not (s.disposition & attached)]


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def display_turns(frame) -> int:
    """Quarter turns counter-clockwise (0-3, for :func:`numpy.rot90`) that make a decoded
    PyAV frame upright, from its display matrix (``VideoFrame.rotation``: degrees
    counter-clockwise, FFmpeg's ``av_display_rotation_get``)."""
    angle = getattr(frame, "rotation", 0) or 0
    return int(round(float(angle) / 90.0)) % 4


def upright(frame) -> np.ndarray:
    """A decoded PyAV frame as an upright RGB uint8 array (H, W, 3)."""
    image = frame.to_ndarray(format="rgb24")
    turns = display_turns(frame)
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's facts (decoding only its first frame, for the display rotation).

    Raises:
        VideoError: the file is missing, a directory, empty, unreadable, or not a video.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = video_streams(container)[0]
        ctx = stream.codec_context
        fps = frame_rate(container, stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(stream.frames or 0) or (int(round(duration * fps)) if fps else 0)
        if not duration and fps:  # an elementary stream states no duration: count packets
            frames = _count_packets(path)
            duration = frames / fps
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0 or fps <= 0:
            raise VideoError(f"{path}: not a usable video (size {width}x{height}, {fps:g} fps)")
        turns = _first_frame_turns(container, stream)
        if turns % 2:
            width, height = height, width
        rotation = (360 - 90 * turns) % 360
        return VideoInfo(str(path), width, height, fps, duration, frames, ctx.name, rotation)
    finally:
        container.close()


#: Container formats that are bare elementary streams: no timestamps of their own, and a
#: demuxer frame rate that is only FFmpeg's default guess (25).
ELEMENTARY_FORMATS = frozenset({"h264", "hevc", "mpegvideo", "m4v", "mjpeg", "vc1", "av1"})


def frame_rate(container, stream) -> float:
    """Frames per second of ``stream``: the container's average rate, except for bare
    elementary streams (``.h264``, ``.hevc``...), whose demuxer says 25 whatever the
    stream: there the rate coded in the stream itself (the SPS timing, FFmpeg's
    ``codec_context.framerate``) is used."""
    rates = [stream.average_rate, stream.guessed_rate, stream.base_rate]
    if set(container.format.name.split(",")) & ELEMENTARY_FORMATS:
        rates = [stream.codec_context.framerate, stream.guessed_rate, *rates]
    for rate in rates:
        if rate:
            return float(rate)
    return 0.0


def _count_packets(path: Path) -> int:
    """Video packets in ``path`` (demuxed, not decoded: fast)."""
    import av

    with av.open(str(path)) as container:
        stream = video_streams(container)[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _first_frame_turns(container, stream) -> int:
    """:func:`display_turns` of the first decodable frame (0 when none decodes here; the
    decoding pass then reports the problem)."""
    import av

    try:
        for frame in container.decode(stream):
            return display_turns(frame)
    except av.error.FFmpegError:
        return 0
    return 0


def iter_frames(
    path: str | os.PathLike,
    every_s: float = 0.0,
    notes: list[str] | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Iterator[Frame]:
    """Yield decoded RGB frames, sampled every ``every_s`` seconds of video time.

    Sampling follows presentation timestamps, so variable-frame-rate video is sampled
    evenly: a frame is yielded when its timestamp reaches the next sampling time
    (0, every_s, 2*every_s, ...). ``every_s=0`` yields every frame. Frames are turned
    upright by the stream's display matrix (a phone clip stored sideways).

    Sparse sampling decodes less: when ``every_s`` spans at least
    :data:`SKIP_MIN_FRAMES` frame intervals and the stream has a constant frame rate
    (:func:`frame_grid`), FFmpeg skips the frames no other frame refers to
    (``skip_frame = "NONREF"``: B-frames, about half of an x264 stream, and 45% of the
    decoding CPU on the 720p classroom mosaic), and each grid time is sampled at the
    first decoded frame reaching it (at most a few frames later); ``frame_index`` and
    ``timestamp_s`` are still exact, from the frame's own timestamp on the grid.
    Decoding uses FFmpeg's frame threads (``thread_type="AUTO"``) when every frame is
    decoded, its default slice threads when frames are skipped: with skipping, frame
    threads cost more (the 4-minute 720p mosaic at 1 sample/s: 12.5 s and 16.5 CPU-s
    against 9.9 s and 15.1 CPU-s).

    A time range (``start_s``, ``end_s``) is decoded from its own seek point: the
    keyframe before ``start_s``, decoding forward and yielding only the frames whose
    timestamp lies in ``[start_s, end_s)``. They are exactly the frames, with the same
    ``frame_index`` and ``timestamp_s``, that a decode of the whole video yields in that
    range: the sampling grid stays anchored at the video's start, the frame before the
    range is decoded to apply the grid's rule, and ``frame_index`` is counted from the
    packets before the range (demuxed, not decoded). Only videos that
    :func:`seekable` accepts are cut into ranges.

    Args:
        path: the video file.
        every_s: sampling interval in seconds (finite, >= 0).
        notes: when given, gets one line when the frames stop well before the container's
            stated duration (more than 1 s and 5% short: a cut-off download, say) without
            being short enough to be refused.
        start_s: first video time in seconds to yield (>= 0; 0 = from the start).
        end_s: yield frames before this video time in seconds; None = to the end. The
            checks for a truncated stream run only for a range reaching the end.

    Raises:
        VideoError: the file cannot be opened, a frame cannot be decoded, or the stream
            ends well before its stated duration (a truncated file).
    """
    import av

    if every_s < 0 or not math.isfinite(every_s):
        raise ValueError(f"every_s must be >= 0, got {every_s}")
    path = Path(path)
    container = _open(path)
    try:
        stream = video_streams(container)[0]
        stated = float(stream.duration * stream.time_base) if stream.duration else None
        if stated is None and container.duration:
            stated = container.duration / 1_000_000
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        fps = frame_rate(container, stream) or 25.0
        grid = frame_grid(path) if every_s > 0 and every_s * fps >= SKIP_MIN_FRAMES else None
        if grid is not None:
            stream.codec_context.skip_frame = "NONREF"
        else:
            stream.thread_type = "AUTO"  # frame threads: faster for every frame only
        last_t = 0.0
        offset = 0.0  # added to the timestamps after each restart (files joined with cat)
        index = -1
        eps = 1e-6
        # a frame is sampled when its time passes a grid point k * every_s that the frame
        # before it had not reached; the grid is anchored at the start in every range
        last_k = -1
        ranged = start_s > 0
        end = math.inf if end_s is None else float(end_s)
        frames = container.decode(stream)
        if ranged:
            index, frames = _seek_before(container, stream, start_s, start)
        decoded = False
        try:
            for frame in frames:
                index += 1
                if grid is not None and frame.pts is not None:
                    index = (frame.pts - grid[0]) // grid[1]
                t = (float(frame.pts * stream.time_base) - start) if frame.pts is not None else None
                if t is None:
                    t = index / fps
                elif decoded and t + offset < last_t - 0.5:
                    offset = last_t + 1.0 / fps - t
                    if notes is not None:
                        notes.append(
                            f"{path}: timestamps restart after {last_t:.2f} s (files joined "
                            "end to end?); the later frames are timed from there on"
                        )
                decoded = True
                t = max(t + offset, 0.0)
                last_t = t
                if t + eps >= end:
                    break
                if every_s > 0:
                    k = math.floor((t + eps) / every_s)
                    if k <= last_k:
                        continue
                    last_k = k
                if t + eps >= start_s:
                    yield Frame(index, t, upright(frame))
        except av.error.FFmpegError as exc:
            # the last packets of a cut-off file fail to decode: when the frames reached
            # the mild-truncation range, stop there (the checks below add the note)
            if not (decoded and stated and last_t >= 0.8 * stated - 1.0 and end_s is None):
                raise VideoError(
                    f"{path}: corrupt or truncated video, decoding failed after "
                    f"{last_t:.2f} s ({_reason(exc)})"
                ) from None
        if end_s is not None and (stated is None or end_s < stated):
            return  # a range short of the end: the end-of-stream checks are the last range's
        if not decoded and not ranged:
            raise VideoError(f"{path}: no frame could be decoded (corrupt or truncated video)")
        if stated and stated > 2.0 and last_t < 0.8 * stated - 1.0:
            raise VideoError(
                f"{path}: truncated video, frames stop at {last_t:.2f} s of {stated:.2f} s"
            )
        if notes is not None and stated and last_t < stated - max(1.0, 0.05 * stated):
            notes.append(
                f"{path}: frames stop at {last_t:.2f} s of the stated {stated:.2f} s; the "
                "file may be truncated (analysed up to where the frames stop)"
            )
    finally:
        container.close()


def _seek_before(container, stream, start_s: float, start: float) -> tuple[int, Iterator]:
    """Seek ``stream`` to a keyframe strictly before video time ``start_s`` (``start``: the
    stream's start time in seconds) and return ``(frames before it - 1, its decoded
    frames)``: the ``frame_index`` the counter must hold before the first frame decoded.

    The index is counted from the demuxed packets (one frame each, decoded in
    presentation order): the packets whose timestamp is before the first decoded frame's.
    Seeking lands at or before the target in MP4, MKV and WebM; where a demuxer lands
    later, earlier targets are tried, then the start of the file.
    """
    import av

    tb = stream.time_base
    target_s = start_s
    for _ in range(6):
        target = int(math.floor((target_s + start) / tb)) - 1
        try:
            container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            break
        frames = container.decode(stream)
        first = next(frames, None)
        if first is None or first.pts is None:
            break
        first_t = float(first.pts * tb) - start
        if first_t < start_s:
            before = _packets_before(container.name, first.pts)
            return before - 1, _chain(first, frames)
        target_s = max(0.0, target_s - max(1.0, start_s - target_s) * 2)
    container.seek(0, stream=stream, backward=True, any_frame=False)
    return -1, container.decode(stream)


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _packets_before(path: str, pts: int) -> int:
    """Packets of the first video stream of ``path`` with a timestamp before ``pts``
    (demuxed, not decoded; stops once the decode timestamps pass ``pts``)."""
    import av

    count = 0
    with av.open(path) as container:
        stream = video_streams(container)[0]
        for packet in container.demux(stream):
            if packet.dts is not None and packet.dts >= pts:
                break  # this and every later packet is presented at or after pts
            if packet.size and packet.pts is not None and packet.pts < pts:
                count += 1
    return count


#: Sampling at least this many frame intervals apart decodes only reference frames (a
#: sample then lands at most a frame or two after its grid time: small against the gap).
SKIP_MIN_FRAMES = 8


def frame_grid(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(first_pts, step)`` when every video packet of ``path`` is timed on one grid,
    ``first_pts + k * step`` (``step`` in the stream's time base): a constant-frame-rate
    stream whose frames then have ``frame_index = (pts - first_pts) // step`` exactly,
    whichever of them are decoded. None for variable frame rates, missing or repeated
    timestamps (joined files), bare elementary streams or a frame dropped from the grid.
    Reads the packets once (demuxing only, about a second for an hour of video; shared
    with :func:`seekable`, see :func:`_packet_times`).

    Raises:
        VideoError: the file cannot be opened as a video.
    """
    scan = _packet_times(path)
    if scan is None or len(scan[0]) < 2:
        return None
    ordered = np.sort(scan[0])
    steps = np.diff(ordered)
    step = int(steps[0])
    if step <= 0 or not (steps == step).all():
        return None
    return int(ordered[0]), step


def seekable(path: str | os.PathLike) -> bool:
    """Whether :func:`iter_frames` can decode ``path`` in time ranges with the same frames
    and indices as a whole decode: every video packet has a timestamp, timestamps are
    unique and decode timestamps never go back (no joined files that restart their
    clocks), and the container is not a bare elementary stream. Reads the packets once
    (demuxing only; shared with :func:`frame_grid`, see :func:`_packet_times`).

    Raises:
        VideoError: the file cannot be opened as a video.
    """
    scan = _packet_times(path)
    if scan is None:
        return False
    pts, dts_ordered = scan
    return bool(len(pts)) and dts_ordered and len(np.unique(pts)) == len(pts)


def _packet_times(path: str | os.PathLike) -> tuple[np.ndarray, bool] | None:
    """The presentation timestamps (int64, the stream's time base, in file order) of the
    first video stream's non-empty packets, and whether their decode timestamps never go
    back; None for a bare elementary stream or a packet without a timestamp.

    The scan demuxes the whole file, so the latest few are kept per file (path, size and
    modification time): planning (:func:`seekable`) and every range's :func:`iter_frames`
    (:func:`frame_grid`) in one process share one scan instead of one each.

    Raises:
        VideoError: the file cannot be opened as a video.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return _scan_packet_times(path)  # _open names the problem
    return _cached_scan(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _cached_scan(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, bool] | None:
    """:func:`_scan_packet_times`, kept for the latest files (size and modification time
    in the key: a file changed in place is scanned again)."""
    return _scan_packet_times(Path(path))


def _scan_packet_times(path: Path) -> tuple[np.ndarray, bool] | None:
    container = _open(path)
    try:
        if set(container.format.name.split(",")) & ELEMENTARY_FORMATS:
            return None
        stream = video_streams(container)[0]
        pts: list[int] = []
        last_dts = None
        dts_ordered = True
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.pts is None:
                return None
            if packet.dts is not None:
                if last_dts is not None and packet.dts < last_dts:
                    dts_ordered = False
                last_dts = packet.dts
            pts.append(packet.pts)
    finally:
        container.close()
    return np.asarray(pts, np.int64), dts_ordered


def estimate_sampled_frames(duration_s: float, fps: float, frame_count: int, every_s: float) -> int:
    """Frames ``analyze`` will sample: one per ``every_s`` seconds of video time.

    Follows :func:`feelinvideo.video.iter_frames`: sampling times 0, every, 2*every, ... up
    to the last frame's timestamp (about ``duration_s - 1/fps``), at most one per frame;
    ``every_s = 0`` means every frame. An estimate from the container's figures.
    """
    frames = max(int(frame_count), 0)
    if every_s <= 0:
        return frames
    last_t = max(float(duration_s) - (1.0 / fps if fps > 0 else 0.0), 0.0)
    estimate = int(math.floor(last_t / every_s + 1e-6)) + 1
    return min(estimate, frames) if frames else estimate
