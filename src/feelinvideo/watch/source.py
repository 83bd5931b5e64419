"""Live sources: a camera, a network stream or a file played at its own pace, read by PyAV.

:func:`parse_source` says what ``SOURCE`` is; :class:`LiveSource` reads it on a background
thread and hands the newest sampled frame to whoever iterates it:

- **Wall-clock sampling.** A decoded frame is sampled when the wall clock (seconds since the
  watch started) reaches the next sampling time (0, every_s, 2 every_s, ...); only sampled
  frames are converted to RGB. ``Frame.timestamp_s`` is that wall-clock time, so time goes
  on across reconnects, and the latency of a row is the wall clock when it is written minus
  its frame's ``timestamp_s``.
- **Latest frame wins.** One slot holds the sampled frame waiting for analysis; a newer one
  replaces it and the older is counted as dropped. Nothing queues up when analysis is slower
  than the sampling rate, so memory stays flat and the analysis follows the present.
- **Reconnect.** When a URL's stream ends or stalls (no packet for ``read_timeout_s``), it is
  reopened with exponential backoff (0.5 s doubling to 10 s); each gap (start, end, reason)
  is kept in :attr:`LiveSource.gaps` and reported through ``log``.

Written here because a live reader needs what a file reader does not: a clock, a drop
policy and reconnection. Opening, demuxing and decoding are PyAV's (FFmpeg's); a dead
stream cannot block forever because PyAV's ``timeout=(open, read)`` interrupts FFmpeg.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VideoError
from ..video import Frame, upright, video_streams

#: Seconds to wait for a stream to open, and for its next packet once open.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 5.0
#: Reconnection backoff: first wait and longest wait, in seconds.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0
#: Gaps kept in memory (and in summary.json); later ones are counted only.
MAX_GAPS = 1000

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class SourceSpec:
    """What ``feelinvideo watch SOURCE`` reads.

    Attributes:
        text: SOURCE as given.
        kind: ``"camera"`` (a device: ``0`` or ``/dev/video0``), ``"url"`` (a network
            stream) or ``"file"`` (played at its own pace).
        url: what PyAV opens (``/dev/video0``, the URL, the file path).
        format: FFmpeg input format forced for cameras (``v4l2``, ``avfoundation``,
            ``dshow``), else None (probed).
        options: FFmpeg options for the input (low-latency flags for network streams).
    """

    text: str
    kind: str
    url: str
    format: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether frames arrive at their own pace (a camera or a stream), not read ahead."""
        return self.kind != "file"


def parse_source(text: str) -> SourceSpec:
    """What SOURCE names: a camera index (``0``: ``/dev/video0`` through FFmpeg's v4l2 on
    Linux, avfoundation on macOS, dshow on Windows), a ``/dev/video*`` device, a URL
    (``scheme://...``: rtsp, rtmp, srt, udp, http(s) incl. HLS), or a file.

    Raises:
        VideoError: SOURCE is none of these (no such file, a directory).
    """
    text = str(text).strip()
    if text.isdigit():
        if sys.platform == "darwin":
            return SourceSpec(text, "camera", text, "avfoundation")
        if sys.platform == "win32":
            return SourceSpec(text, "camera", f"video={text}", "dshow")
        return SourceSpec(text, "camera", f"/dev/video{int(text)}", "v4l2")
    if text.startswith("/dev/video"):
        return SourceSpec(text, "camera", text, "v4l2")
    if _URL.match(text):
        scheme = text.split("://", 1)[0].lower()
        options = {"fflags": "nobuffer"}
        if scheme == "rtsp":
            options["rtsp_transport"] = "tcp"  # UDP loses packets, and with them whole frames
        if scheme == "udp":
            # FFmpeg's own receive buffer (fifo_size 28,672 packets of 188 bytes, 5.4 MB) is
            # kept: a bigger one would hide a reader that cannot keep up behind growing delay;
            # when it overflows, packets are lost (and counted by FFmpeg), not fatal
            options["overrun_nonfatal"] = "1"
        if scheme == "file":
            return parse_source(text.split("://", 1)[1])
        return SourceSpec(text, "url", text, None, options)
    path = Path(text)
    if not path.exists():
        raise VideoError(
            f"{text}: no such file, and not a camera (0, /dev/video0) or a stream URL "
            "(rtsp://, udp://, http://...)"
        )
    if path.is_dir():
        raise VideoError(f"{text}: is a directory, expected a video file, camera or stream URL")
    return SourceSpec(text, "file", str(path))


@dataclass
class Gap:
    """A time the stream was lost: ``start_s`` to ``end_s`` (None while it lasts), seconds
    since the watch started, and why (FFmpeg's message or "stream ended")."""

    start_s: float
    end_s: float | None
    reason: str

    def as_dict(self) -> dict:
        end = None if self.end_s is None else round(self.end_s, 3)
        length = None if self.end_s is None else round(self.end_s - self.start_s, 3)
        return {
            "start_s": round(self.start_s, 3),
            "end_s": end,
            "length_s": length,
            "reason": self.reason,
        }


class LiveSource:
    """Reads a :class:`SourceSpec` on a background thread; iterate it for sampled frames.

    Args:
        spec: what to read (:func:`parse_source`).
        every_s: sampling interval in seconds of wall-clock time (>= 0; 0 = every frame).
        reconnect: reopen a lost URL or camera stream with backoff instead of ending.
        log: called with one line per event people should see (gaps, reconnects).
        open_timeout_s, read_timeout_s: how long opening, and waiting for a packet, may take.
        clock: seconds, monotonic (tests pass their own).

    Attributes (read them any time; they only grow):
        decoded: frames decoded; sampled: frames sampled (handed over or dropped);
        dropped: sampled frames replaced by a newer one before analysis took them;
        delivered: sampled frames analysis took; corrupt: packets the decoder refused
        (skipped: a stream joined between keyframes, packets lost); first_frame_s: when
        the first frame was decoded (seconds since the start; None before); gaps:
        :class:`Gap` list (at most :data:`MAX_GAPS`), gap_count: all gaps; width, height,
        fps: of the stream (0 until open); ended: why reading stopped (None while it runs).

    Raises (from :meth:`open`; later failures end the frames, see :attr:`ended`):
        VideoError: the source cannot be opened, or holds no video.
    """

    def __init__(
        self,
        spec: SourceSpec,
        every_s: float = 1.0,
        reconnect: bool = False,
        log: Callable[[str], None] | None = None,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not (math.isfinite(every_s) and every_s >= 0):
            raise ValueError(f"every_s must be a finite number >= 0, got {every_s}")
        self.spec = spec
        self.every_s = float(every_s)
        self.reconnect = reconnect
        self.log = log or (lambda line: None)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.clock = clock
        self.start = clock()
        self.decoded = self.sampled = self.dropped = self.delivered = self.corrupt = 0
        self.gaps: list[Gap] = []
        self.gap_count = 0
        self.first_frame_s: float | None = None
        self.width = self.height = 0
        self.fps = 0.0
        self.ended: str | None = None
        self._slot = LatestSlot()
        self._stop = threading.Event()
        self._container = None
        self._thread: threading.Thread | None = None
        self._next_t = 0.0

    def now(self) -> float:
        """Seconds since the watch started (wall clock)."""
        return self.clock() - self.start

    # ------------------------------------------------------------------ reading

    def open(self) -> LiveSource:
        """Open the source (raising VideoError when it cannot be) and start reading."""
        self._container = self._open()
        self._thread = threading.Thread(target=self._run, name="feelinvideo-source", daemon=True)
        self._thread.start()
        return self

    def _open(self):
        import av

        try:
            container = av.open(
                self.spec.url,
                format=self.spec.format,
                options=dict(self.spec.options),
                timeout=(self.open_timeout_s, self.read_timeout_s),
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.spec.text}: cannot open ({_reason(exc)})") from None
        streams = video_streams(container)
        if not streams:
            container.close()
            raise VideoError(f"{self.spec.text}: holds no video stream")
        ctx = streams[0].codec_context
        self.width, self.height = int(ctx.width or 0), int(ctx.height or 0)
        self.fps = float(streams[0].average_rate or streams[0].guessed_rate or 0)
        return container

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        container = self._container
        while not self._stop.is_set():
            reason = self._read(container)
            container.close()
            self._container = None
            if self._stop.is_set():
                break
            if not (self.reconnect and self.spec.live):
                self.ended = reason
                if reason != "stream ended":
                    self.log(f"stream lost at {self.now():.1f} s ({reason}); not reconnecting")
                break
            gap = Gap(self.now(), None, reason)
            self.gap_count += 1
            if len(self.gaps) < MAX_GAPS:
                self.gaps.append(gap)
            self.log(f"stream lost at {gap.start_s:.1f} s ({reason}); reconnecting")
            container = None
            while container is None and not self._stop.wait(backoff):
                try:
                    container = self._open()
                except VideoError as exc:
                    backoff = min(2 * backoff, BACKOFF_MAX_S)
                    self.log(f"reconnect failed ({exc}); next try in {backoff:g} s")
            if container is None:
                gap.end_s = self.now()
                break
            self._container = container
            gap.end_s = self.now()
            backoff = BACKOFF_START_S
            self.log(f"reconnected after {gap.end_s - gap.start_s:.1f} s")
        self.ended = self.ended or "stopped"
        self._slot.close()

    def _read(self, container) -> str:
        """Decode ``container`` until it ends, fails or the watch stops; returns why."""
        import av

        stream = video_streams(container)[0]
        stream.thread_type = "AUTO"
        pace = not self.spec.live  # a file: each frame when its time comes
        opened = self.clock()
        first_t = None
        eps = 1e-6
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return "stopped"
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:
                    # a live stream joined mid-GOP, or a packet lost on the way: the decoder
                    # recovers at the next keyframe; only the source failing ends the stream
                    self.corrupt += 1
                    if self.corrupt == 1 or self.corrupt % 100 == 0:
                        self.log(
                            f"undecodable data ({_reason(exc)}; {self.corrupt} packets so "
                            "far), skipped until the decoder recovers"
                        )
                    continue
                for frame in frames:
                    if self._stop.is_set():
                        return "stopped"
                    self.decoded += 1
                    if self.first_frame_s is None:
                        self.first_frame_s = self.now()
                    if pace and frame.pts is not None and stream.time_base is not None:
                        t = float(frame.pts * stream.time_base)
                        first_t = t if first_t is None else first_t
                        wait = opened + (t - first_t) - self.clock()
                        if wait > 0 and self._stop.wait(wait):
                            return "stopped"
                    now = self.now()
                    if now + eps < self._next_t:
                        continue
                    if self.every_s > 0:
                        self._next_t = (math.floor((now + eps) / self.every_s) + 1) * self.every_s
                    self.sampled += 1
                    item = Frame(self.decoded - 1, now, upright(frame))
                    if self._slot.put(item):
                        self.dropped += 1
        except av.error.FFmpegError as exc:  # reading the source (a timeout, a reset)
            if self._stop.is_set():
                return "stopped"
            return _reason(exc)
        return "stream ended"

    def stop(self) -> None:
        """Stop reading (the iterator then ends after the frame it holds, if any)."""
        self._stop.set()
        self._slot.close()

    def join(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` seconds for the reading thread to finish."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __iter__(self) -> Iterator[Frame]:
        """Sampled frames, the newest each time: blocks until one is there; ends when the
        source ends (a file's end; a stream lost without ``reconnect``: see :attr:`ended`)
        or :meth:`stop` is called."""
        while True:
            item = self._slot.take()
            if item is None:
                return
            self.delivered += 1
            yield item

    def stats(self) -> dict:
        """Counters so far: ``decoded, sampled, delivered, dropped, corrupt, gaps``."""
        return {
            "decoded": self.decoded,
            "corrupt": self.corrupt,
            "sampled": self.sampled,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "gaps": self.gap_count,
        }


class LatestSlot:
    """A one-item hand-over between threads where the newest item wins.

    :meth:`put` replaces an item not yet taken (returning True: one item dropped);
    :meth:`take` blocks until an item is there (returning it) or the slot is closed and
    empty (returning None). Memory: one item, whatever the rates.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._closed = False

    def put(self, item) -> bool:
        """Hand ``item`` over; True when it replaced one nobody took (a drop)."""
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self):
        """The newest item (blocking), or None once closed and empty."""
        with self._cond:
            while self._item is None and not self._closed:
                self._cond.wait()
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """No more items: a waiting :meth:`take` returns what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__
