"""The overlay video: the input decoded again, each frame drawn on by a
:class:`~feelinvideo.outputs.overlay.styles.FaceOverlay`, encoded H.264 / yuv420p with
PyAV (FFmpeg inside the wheel, no ``ffmpeg`` binary), keeping the input's audio track
(copied where MP4 can carry its codec, else re-encoded to AAC). Output goes to a temporary
file renamed at the end.

Faces are drawn on every frame where they are, not only on the sampled ones: a
:class:`~feelinvideo.outputs.overlay.follow.FaceFollower` decodes the video and follows the
faces from each sampled frame to the next (optical flow both ways), one sampling interval
ahead of the drawing. The ``blur`` style adds a detector pass on every frame that was not
sampled (the analysis's detector at its ``--min-face``) and blurs every face it finds too:
a face the flow loses, or one in view only between two samples, is blurred on every frame
the detector finds it. This is what makes the blur fail-safe, at the detector's price (the
emoji and box styles do without it: they only follow).

Three threads overlap: the follower's (decoding, flow, the detector), this one (drawing,
on the decoded yuv420p frame: :class:`_Canvas`) and the encoder's (x264, which runs its own
frame threads, and muxing). Encoder settings, chosen by measurement
(``python bench/bench_render.py --presets veryfast superfast ultrafast``, docs/benchmarks.md
"Rendering the overlay"): x264 preset :data:`X264_PRESET`, CRF :data:`X264_CRF`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...errors import OutputError, VideoError
from ...faces import Faces, Sample
from ...schema import DEFAULT_MIN_FACE_PX
from ...video import display_turns, probe, upright, video_streams
from .flow import tracking_scale
from .follow import FaceFollower
from .styles import FaceOverlay

#: errno values that mean the output could not be written (not that the input is bad).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
#: audio codecs an MP4 file can carry as they are; others are re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}
#: x264 speed preset and constant rate factor of the overlay video.
X264_PRESET = "superfast"
X264_CRF = 23
#: Frames drawn ahead of the encoder at most.
ENCODE_QUEUE = 8

#: ``on_frame(position, timestamp_s, faces, covered)``: see :func:`write_overlay`.
FrameHook = Callable[[int, float, Faces, np.ndarray], None]


def write_overlay(
    video_path: str | os.PathLike,
    out_path: str | os.PathLike,
    overlays: Sequence[Sample],
    progress: Callable[[float], None] | None = None,
    size: tuple[int, int] | None = None,
    style: str = "emoji",
    detect: Callable[[list[np.ndarray]], list[Faces]] | None = None,
    min_face_px: float = DEFAULT_MIN_FACE_PX,
    on_frame: FrameHook | None = None,
    preset: str = X264_PRESET,
) -> None:
    """Write the overlay video, upright (the input's display matrix applied).

    Args:
        video_path: the input video.
        out_path: the ``.mp4`` to write (written to ``<name>.part.mp4`` then renamed).
        overlays: the analysis's :class:`~feelinvideo.faces.Sample` per sampled frame, in
            time order; their faces are followed onto every frame
            (:class:`~feelinvideo.outputs.overlay.follow.FaceFollower`).
        progress: called in this thread with the timestamp in seconds of the latest frame
            encoded, after each frame drawn (so at most :data:`ENCODE_QUEUE` frames behind)
            and once all are written.
        size: the upright ``(width, height)`` in pixels, as
            :func:`feelinvideo.video.probe` reports it (probed when None).
        style: ``"emoji"``, ``"box"`` or ``"blur"`` (see
            :class:`~feelinvideo.outputs.overlay.styles.FaceOverlay`).
        detect: the analysis's detector (``detect(images) -> list[Faces]``, RGB uint8
            frames): run on every frame that is not sampled in the ``blur`` style, every
            face it finds blurred. Required for ``blur``; unused by the other styles.
        min_face_px: the smallest face side the analysis found, in video pixels (> 0): with
            the samples' faces, it sets the scale faces are followed at
            (:func:`~feelinvideo.outputs.overlay.flow.tracking_scale`).
        on_frame: called for each frame drawn with its 0-based position in decode order,
            its timestamp in seconds, the faces drawn with labels and float (M, 4) ``xyxy``:
            every area drawn over a face (emoji squares, box outlines or blurred areas,
            labelled faces and the ones only blurred). For checks and benchmarks.
        preset: the x264 speed preset (``"ultrafast"`` ... ``"veryslow"``).

    Raises:
        ValueError: an unknown style, or ``blur`` without ``detect``.
        VideoError: the input cannot be decoded.
        OutputError: the output cannot be written.
        BackendError: the detector failed (``blur``).
    """
    import av

    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.stem + ".part" + out_path.suffix)
    annotator = FaceOverlay(style)
    if style == "blur" and detect is None:
        raise ValueError("the blur style needs the detector (detect=...) to be fail-safe")
    if size is None:
        info = probe(video_path)
        size = (info.width, info.height)
    try:
        src = av.open(str(video_path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{video_path}: cannot be decoded ({exc})") from None
    if not video_streams(src):
        src.close()
        raise VideoError(f"{video_path}: holds no video stream to draw on")
    follower = FaceFollower(
        video_path,
        overlays,
        size,
        tracking_scale(min_face_px, overlays),
        detect=detect if style == "blur" else None,
    )
    try:
        try:
            dst = av.open(str(tmp), mode="w", format="mp4")
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{tmp}: cannot write the overlay video ({exc})") from None
        try:
            with follower:
                _transcode(src, dst, follower, annotator, progress, size, on_frame, preset)
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


def _transcode(src, dst, follower, annotator, progress, size, on_frame, preset) -> None:
    vin = video_streams(src)[0]
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    vout = dst.add_stream("libx264", rate=rate)
    width, height = size[0] // 2 * 2, size[1] // 2 * 2  # upright; H.264 wants even sides
    vout.width, vout.height = width, height
    vout.pix_fmt = "yuv420p"
    vout.time_base = vin.time_base
    vout.codec_context.time_base = vin.time_base
    vout.options = {"preset": preset, "crf": str(X264_CRF), "movflags": "+faststart"}
    ain = src.streams.audio[0] if src.streams.audio else None
    aout = None
    reencode = False
    if ain is not None:
        if ain.codec_context.name in MP4_AUDIO:
            aout = dst.add_stream_from_template(ain)
        else:
            aout = dst.add_stream("aac", rate=ain.codec_context.sample_rate or 44100)
            reencode = True
    start = vin.start_time or 0
    last_pts = None
    canvas = _Canvas(width, height)
    reported = -1.0
    with _Encoder(dst, vout, aout if reencode else None) as encoder:

        def audio(packet) -> None:
            if packet.dts is None:
                return
            if reencode:
                for aframe in packet.decode():
                    aframe.pts = None
                    encoder.put(("audio frame", aframe))
            else:
                packet.stream = aout
                encoder.put(("packet", packet))

        for frame, drawn in _frames_and_audio(src, vin, ain, iter(follower), audio):
            t = drawn.timestamp_s
            faces, hidden = drawn.faces, drawn.hidden
            layout = annotator.layout(canvas.scene, faces, hidden)
            picture = canvas.draw(frame, annotator, layout)
            if on_frame is not None:
                covered = np.concatenate([layout.covered, layout.hidden_covered])
                on_frame(drawn.position, t, faces, covered.reshape(-1, 4))
            pts = (
                frame.pts - start
                if frame.pts is not None
                else (0 if last_pts is None else last_pts + 1)
            )
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1
            last_pts = pts
            encoder.put(("picture", picture, pts, vin.time_base, t))
            if progress is not None and encoder.done_s > reported:
                reported = encoder.done_s
                progress(reported)
        encoder.put(("end",))
    if progress is not None and encoder.done_s > reported:
        progress(encoder.done_s)


def _frames_and_audio(src, vin, ain, followed, audio):
    """``(frame, FrameFaces)`` of every frame as the follower decoded them; the audio
    packets, demuxed here, go to ``audio`` in time order between them."""
    packets = src.demux(ain) if ain is not None else iter(())
    pending = next(packets, None)
    for drawn in followed:
        frame = drawn.frame
        now = float(frame.pts * vin.time_base) if frame.pts is not None else None
        while pending is not None and (now is None or _packet_s(pending, ain) <= now):
            audio(pending)
            pending = next(packets, None)
        yield frame, drawn
    while pending is not None:
        audio(pending)
        pending = next(packets, None)


def _packet_s(packet, stream) -> float:
    """A packet's time in seconds (its stream's clock), -inf when it has none."""
    when = packet.pts if packet.pts is not None else packet.dts
    return float(when * stream.time_base) if when is not None else -np.inf


class _Canvas:
    """Draws a frame's layout with as little colour conversion as possible.

    A frame decoded as yuv420p (nearly every H.264 / HEVC video) is drawn on in place:
    the rectangles the layout reads or changes
    (:meth:`~feelinvideo.outputs.overlay.styles.Layout.changed`, grown to even
    coordinates: whole chroma blocks) are converted to RGB (OpenCV's BT.601 I420
    conversion, as FFmpeg's default) into an RGB buffer, drawn on, and those it changes
    converted back; every other pixel goes to the encoder as
    decoded (the inside of a ``box`` face is not converted at all). Drawing on whole frames
    converted to RGB and back took 16% more time (18% more CPU) for the emoji style on the
    street clip (``python bench/bench_render.py --clips street --whole-frames``,
    docs/benchmarks.md "Rendering the overlay"). Other frames (another pixel format, a
    display rotation, odd sides) are converted to RGB whole, drawn on and encoded from RGB.

    Args:
        width, height: the output's even sides in pixels (the upright frame's, cut to even).
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.scene = np.zeros((height, width, 3), np.uint8)  # RGB, valid in drawn areas only

    def draw(self, frame, annotator: FaceOverlay, layout) -> tuple[np.ndarray, str]:
        """``frame`` (a decoded PyAV frame) drawn on: ``(array, pixel format)`` for
        ``VideoFrame.from_ndarray``."""
        w, h = self.width, self.height
        if (
            frame.format.name == "yuv420p"
            and not display_turns(frame)
            and (frame.width, frame.height) == (w, h)
        ):
            yuv = frame.to_ndarray(format="yuv420p")  # (h * 3 / 2, w) I420, a copy
            if len(layout.faces) or len(layout.hidden):
                self._draw_i420(yuv, annotator, layout)
            return yuv, "yuv420p"
        image = upright(frame)
        if len(layout.faces) or len(layout.hidden):
            annotator.draw(image, layout)
        if image.shape[0] != h or image.shape[1] != w:
            image = np.ascontiguousarray(image[:h, :w])
        return image, "rgb24"

    def _draw_i420(self, yuv: np.ndarray, annotator: FaceOverlay, layout) -> None:
        import cv2

        w, h = self.width, self.height
        flat = yuv.reshape(-1)
        planes = (
            flat[: w * h].reshape(h, w),
            flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2),
            flat[w * h * 5 // 4 :].reshape(h // 2, w // 2),
        )
        reads, writes = layout.changed(annotator, self.scene)
        writes = _even_rects(writes, w, h)
        # what is written is loaded too: the pixels added to reach even sides keep theirs
        for x0, y0, x1, y1 in np.concatenate([_even_rects(reads, w, h), writes]):
            crop = _i420_crop(planes, x0, y0, x1, y1)
            self.scene[y0:y1, x0:x1] = cv2.cvtColor(crop, cv2.COLOR_YUV2RGB_I420)
        annotator.draw(self.scene, layout)
        for x0, y0, x1, y1 in writes:
            rgb = np.ascontiguousarray(self.scene[y0:y1, x0:x1])
            crop = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
            n = (x1 - x0) * (y1 - y0)
            planes[0][y0:y1, x0:x1] = crop[:n].reshape(y1 - y0, x1 - x0)
            chroma = ((y1 - y0) // 2, (x1 - x0) // 2)
            planes[1][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = crop[n : n * 5 // 4].reshape(chroma)
            planes[2][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = crop[n * 5 // 4 :].reshape(chroma)


def _even_rects(areas: np.ndarray, width: int, height: int) -> np.ndarray:
    """int (K, 4) ``xyxy``: ``areas`` grown outward to even coordinates (whole 2x2 chroma
    blocks), clipped to the frame (even sides), empty ones left out."""
    a = np.asarray(areas, dtype=np.float64).reshape(-1, 4)
    a = a[np.isfinite(a).all(axis=1)]
    lo = np.floor(a[:, :2] / 2) * 2
    hi = np.ceil(a[:, 2:] / 2) * 2
    out = np.concatenate([lo, hi], axis=1)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    out = out.astype(np.int64)
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def _i420_crop(planes, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The even-aligned rectangle of I420 ``planes`` (Y, U, V) as one I420 image
    (uint8 ((y1 - y0) * 3 / 2, x1 - x0)), as OpenCV's I420 conversions take it."""
    y = planes[0][y0:y1, x0:x1]
    u = planes[1][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
    v = planes[2][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
    return np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, x1 - x0)


class _Encoder:
    """Encodes and muxes in a thread of its own, in the order items are put:
    ``("picture", (array, pixel format), pts, time_base, t)``, ``("packet", audio packet)``
    (copied), ``("audio frame", frame)`` (re-encoded into ``aout``, None when audio is
    copied), ``("end",)`` (flush).
    An error in the thread is raised by the next :meth:`put` or on leaving the ``with``
    block."""

    def __init__(self, dst, vout, aout) -> None:
        self.dst, self.vout, self.aout = dst, vout, aout
        #: timestamp in seconds of the latest frame encoded (-1: none yet)
        self.done_s = -1.0
        self._queue: queue.Queue = queue.Queue(maxsize=ENCODE_QUEUE)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="feelinvideo-encode", daemon=True)

    def __enter__(self) -> _Encoder:
        self._thread.start()
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:  # stop the thread without flushing
            self._abort()
            return
        self._thread.join()
        self._raise()

    def put(self, item) -> None:
        while True:
            self._raise()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _abort(self) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(("stop",), timeout=0.1)
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        self._thread.join()

    def _run(self) -> None:
        import av

        try:
            while True:
                item = self._queue.get()
                kind = item[0]
                if kind == "stop":
                    return
                if kind == "picture":
                    _, (image, format_), pts, time_base, t = item
                    out = av.VideoFrame.from_ndarray(image, format=format_)
                    out.pts, out.time_base = pts, time_base
                    for packet in self.vout.encode(out):
                        self.dst.mux(packet)
                    self.done_s = t
                elif kind == "packet":
                    self.dst.mux(item[1])
                elif kind == "audio frame":
                    for packet in self.aout.encode(item[1]):
                        self.dst.mux(packet)
                else:  # end
                    for packet in self.vout.encode(None):
                        self.dst.mux(packet)
                    if self.aout is not None:
                        for packet in self.aout.encode(None):
                            self.dst.mux(packet)
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the drawing thread
            self._error = exc
            with contextlib.suppress(queue.Empty):  # unblock a waiting put
                while True:
                    self._queue.get_nowait()
