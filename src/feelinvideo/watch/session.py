"""One live watch: source -> :func:`feelinvideo.pipeline.analyze_stream` -> windows ->
stdout, ``faces.csv``, metrics; ``summary.json`` and ``people.json`` at the end.

Threads: the source reads and samples frames (:class:`~feelinvideo.watch.source.LiveSource`);
a worker runs the analysis pipeline (backend, identity) on the newest sampled frame; the
calling thread closes windows on the wall clock (also while the stream is lost), writes
and publishes them, and notices :meth:`Watch.stop` (Ctrl-C, SIGTERM) and ``duration_s``.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..backends.protocol import Backend
from ..errors import FeelinvideoError, OptionError
from ..faces import Sample
from ..galleries.interface import Gallery
from ..models.dlib import face_encodings
from ..outputs.summary import rounded
from ..outputs.table import faces_table
from ..settings import AnalyzeOptions
from ..specs import BackendSpec
from ..stream import analyze_stream
from .live_people import LiveIdentity
from .metrics import WatchMetrics
from .sink import RunFolder
from .source import OPEN_TIMEOUT_S, READ_TIMEOUT_S, LiveSource, SourceSpec, parse_source
from .windows import RunTotals, percentiles, window_summary

#: A window is closed at most this many seconds after its end when no later frame came
#: (frames still in analysis then count in the next window).
MAX_GRACE_S = 5.0
#: Latencies kept for the run's percentiles (the latest).
LATENCY_SAMPLES = 10_000


@dataclass
class WatchSettings:
    """Settings of a watch beyond :class:`~feelinvideo.pipeline.AnalyzeOptions`.

    Attributes:
        window_s: window length in seconds (> 0; ``AnalyzeOptions.window_s`` is not used).
        duration_s: end by itself after this many seconds (> 0), or None: until stopped.
        reconnect: reopen a lost stream with backoff; None: on for URLs, off otherwise.
        metrics_port: serve Prometheus metrics on this port, or None.
        frames_per_call: frames per backend call (1: lowest latency).
        timeout_s: seconds without a packet after which a stream counts as lost (> 0);
            opening may take the longer of this and 10 s.
    """

    window_s: float = 10.0
    duration_s: float | None = None
    reconnect: bool | None = None
    metrics_port: int | None = None
    frames_per_call: int = 1
    timeout_s: float = READ_TIMEOUT_S

    def check(self) -> None:
        """Raise OptionError naming the first setting out of range."""
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise OptionError(f"window_s must be a finite number > 0, got {self.window_s}")
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s > 0
        ):
            raise OptionError(f"duration_s must be a finite number > 0, got {self.duration_s}")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise OptionError(f"timeout_s must be a finite number > 0, got {self.timeout_s}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise OptionError(f"metrics_port must be in [0, 65535], got {self.metrics_port}")


class Watch:
    """A live watch of one source (see the module docstring); call :meth:`run`.

    Args:
        source: SOURCE text (:func:`~feelinvideo.watch.source.parse_source`) or a spec.
        out: output folder (``faces.csv`` appended per window, ``summary.json`` and
            ``people.json`` at the end), or None: nothing written.
        backend: face/emotion backend (default local MTCNN + fer).
        gallery: an open gallery whose enrolled names faces may take, or None.
        options: analysis settings (``every_s`` is wall-clock seconds here; ``identity``,
            ``tolerance``, ``reembed_every_s``, ``smooth_s``).
        settings: :class:`WatchSettings`.
        on_window: called with each window's dict (:func:`~feelinvideo.watch.windows.
            window_summary` plus ``time``, ``latency_s`` and ``sample_rate``) as it ends.
        log: called with lines for people (gaps, reconnects, per-window status).

    Raises (from :meth:`run`; an error during the watch is raised after the last window,
    summary.json and people.json were written, with ``watch.ended`` saying ``error: ...``;
    a watch that fails before analysing its first frame leaves ``out`` as it found it):
        VideoError: the source cannot be opened.
        OutputError: the folder cannot be written or already holds a run; the metrics
            port is taken.
        BackendError, GalleryError: as for ``analyze``.
    """

    def __init__(
        self,
        source: str | SourceSpec,
        out: str | os.PathLike | None = None,
        *,
        backend: Backend | None = None,
        gallery: Gallery | None = None,
        options: AnalyzeOptions | None = None,
        settings: WatchSettings | None = None,
        on_window: Callable[[dict], None] | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.spec = source if isinstance(source, SourceSpec) else parse_source(source)
        self.out = Path(out) if out is not None else None
        self.backend = backend
        self.gallery = gallery
        self.options = options or AnalyzeOptions()
        self.settings = settings or WatchSettings()
        self.options.check()
        self.settings.check()
        self.on_window = on_window or (lambda window: None)
        self.log = log or (lambda line: None)
        self._stop = threading.Event()
        self.summary: dict | None = None
        self.source: LiveSource | None = None

    def stop(self) -> None:
        """End the watch normally (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> dict:
        """Watch until the source ends, :meth:`stop` or ``duration_s``; returns the
        summary.json dict (also written to ``out``)."""
        backend = self.backend if self.backend is not None else BackendSpec().build()
        reconnect = self.settings.reconnect
        if reconnect is None:
            reconnect = self.spec.kind == "url"
        stage = None
        if self.options.identity:
            stage = LiveIdentity(self.gallery, self.options.tolerance, self.options.reembed_every_s)
        data_columns = tuple(backend.columns) + (stage.columns if stage is not None else ())
        # faces.csv's header: the columns faces_table gives every window (pipeline's rule)
        columns = list(
            faces_table(
                [],
                identity=stage is not None,
                data_columns=data_columns,
                min_emotion_face_px=self.options.min_emotion_face_px,
            )
        )
        if self.out is not None:
            RunFolder.check(self.out)  # before the models load and the source opens
        folder = metrics = state = None
        written = False  # summary.json written: the folder holds a run
        try:
            metrics = WatchMetrics(self.settings.metrics_port)
            _warm_up(backend, stage is not None, self.log)
            self.source = source = LiveSource(
                self.spec,
                self.options.every_s,
                reconnect=reconnect,
                log=self.log,
                open_timeout_s=max(OPEN_TIMEOUT_S, self.settings.timeout_s),
                read_timeout_s=self.settings.timeout_s,
            )
            started = datetime.now(timezone.utc).astimezone()
            source.open()
            if self.out is not None:  # only once the source is open: a failed start writes nothing
                folder = RunFolder(self.out, columns)
            state = _Loop(self, source, backend, stage, folder, metrics, columns)
            try:
                state.loop()
            except FeelinvideoError as exc:  # the run's files are completed, then it is raised
                state.error = exc
            finally:
                source.stop()
                state.drain()
            summary = state.summary(started)
            if folder is not None and not (state.error is not None and not state.analysed):
                people = state.totals.people_json(source.width, source.height) if stage else None
                folder.finish(summary, people)
                written = True
            self.summary = summary
            if state.error is not None:
                raise state.error
            return summary
        finally:
            if folder is not None:
                if not written and (state is None or not state.analysed):
                    folder.discard()  # failed before its first frame: nothing to keep
                else:
                    folder.close()
            if metrics is not None:
                metrics.close()
            if self.source is not None:
                self.source.stop()
                self.source.join(1.0)


class _Loop:
    """The calling thread's side of :meth:`Watch.run`: windows on the wall clock."""

    DONE = object()

    def __init__(self, watch: Watch, source: LiveSource, backend, stage, folder, metrics, columns):
        self.watch, self.source, self.stage = watch, source, stage
        self.folder, self.metrics, self.columns = folder, metrics, columns
        self.backend = backend
        self.totals = RunTotals()
        self.window_s = watch.settings.window_s
        self.k = 0
        self.samples: list[Sample] = []
        self.latencies: list[float] = []
        self.all_latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.dropped_before = 0
        self.analysed = 0
        self.warnings: list[str] = []
        self.results: queue.Queue = queue.Queue(maxsize=64)
        self.worker = threading.Thread(target=self._work, name="feelinvideo-watch", daemon=True)
        self.worker.start()
        self.finished = False
        self.reason = None
        self.error: FeelinvideoError | None = None

    def _work(self) -> None:
        try:
            stream = analyze_stream(
                self.source,
                self.backend,
                self.watch.options,
                self.stage,
                frames_per_call=self.watch.settings.frames_per_call,
            )
            for frame, faces in stream:
                faces.embedding = None
                ready = self.source.now()
                self.results.put((frame.frame_index, frame.timestamp_s, faces, ready))
            self.results.put(self.DONE)
        except BaseException as exc:  # raised again in the calling thread
            self.results.put(exc)

    def loop(self) -> None:
        duration = self.watch.settings.duration_s
        while True:
            now = self.source.now()
            if self.watch._stop.is_set():
                self.reason = "stopped"
                return
            if duration is not None and now >= duration:
                self.reason = "duration reached"
                return
            end = (self.k + 1) * self.window_s
            grace = min(self.window_s, MAX_GRACE_S)
            if now >= end + grace:
                self.close(end)
                continue
            wait = min(0.25, end + grace - now)
            if duration is not None:
                wait = min(wait, max(0.0, duration - now))
            try:
                item = self.results.get(timeout=max(0.01, wait))
            except queue.Empty:
                continue
            if self.handle(item):
                return

    def handle(self, item) -> bool:
        """Take one result; True when the analysis has ended."""
        if item is self.DONE:
            self.finished = True
            return True
        if isinstance(item, BaseException):
            self.finished = True
            raise item
        index, t, faces, ready = item
        while t >= (self.k + 1) * self.window_s:  # results come in time order
            self.close((self.k + 1) * self.window_s)
        self.samples.append(Sample(index, t, faces))
        latency = max(0.0, ready - t)
        self.latencies.append(latency)
        self.all_latencies.append(latency)
        self.analysed += 1
        self.metrics.frame(len(faces), latency)
        return False

    def drain(self) -> None:
        """After the source stopped: take what the analysis still finishes."""
        deadline = time.monotonic() + 30.0
        while not self.finished and time.monotonic() < deadline:
            try:
                item = self.results.get(timeout=0.5)
            except queue.Empty:
                if not self.worker.is_alive():
                    break
                continue
            try:
                if self.handle(item):
                    break
            except FeelinvideoError as exc:
                self.error = self.error or exc
                break
        now = self.source.now()
        if self.samples or now > self.k * self.window_s + 1e-3:
            self.close(max(now, max((s.timestamp_s for s in self.samples), default=0.0)))

    def close(self, end_s: float) -> None:
        """End window ``k`` at ``end_s``: table, numbers, faces.csv, metrics, stdout."""
        start = self.k * self.window_s
        end_s = max(end_s, start)
        df = faces_table(
            self.samples,
            identity=self.stage is not None,
            data_columns=self.columns,
            min_emotion_face_px=self.watch.options.min_emotion_face_px,
        )
        dropped = self.source.dropped - self.dropped_before
        self.dropped_before += dropped
        window = window_summary(df, start, end_s, len(self.samples), dropped)
        span = max(end_s - start, 1e-9)
        window["sample_rate"] = round(len(self.samples) / span, 3)
        window["latency_s"] = percentiles(self.latencies)
        window["time"] = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        window = rounded(window)
        self.totals.add(df, window)
        if self.folder is not None:
            self.folder.append(df)
        self.metrics.window(
            window, self.source.dropped, self.source.gap_count, window["sample_rate"]
        )
        self.watch.on_window(window)
        lat = window["latency_s"]
        latency = (
            f"latency p50 {lat['p50']:.2f} s p95 {lat['p95']:.2f} s"
            if lat["p50"] is not None
            else "no frame analysed"
        )
        self.watch.log(
            f"{end_s:.0f} s: {len(self.samples)} analysed ({window['sample_rate']:.2f}/s), "
            f"{dropped} dropped, {latency}"
        )
        self.samples, self.latencies = [], []
        self.k += 1

    def summary(self, started: datetime) -> dict:
        """summary.json: ``analyze``'s keys, plus ``watch`` (source, counts, latency, gaps)."""
        source, settings, options = self.source, self.watch.settings, self.watch.options
        elapsed = source.now()
        video = {
            "path": self.watch.spec.text,
            "duration_s": round(elapsed, 3),
            "fps": round(source.fps, 3),
            "width": source.width,
            "height": source.height,
            "frame_count": source.decoded,
        }
        summary = {
            "video": video,
            "backend": self.backend.name,
            "every_s": options.every_s,
            "window_s": settings.window_s,
            "min_emotion_face_px": options.min_emotion_face_px,
            **self.totals.summary_fields(),
        }
        if self.totals.window_count > len(self.totals.windows):
            self.warnings.append(
                f"summary.json keeps the latest {len(self.totals.windows)} of "
                f"{self.totals.window_count} windows (stdout and faces.csv have them all)"
            )
        if self.stage is not None:
            people = self.totals.person_summaries()
            summary["identity"] = self.stage.stats() | {
                "min_frames": 1,
                "gallery": self.watch.gallery.location if self.watch.gallery else None,
                "tolerance": options.tolerance,
                "naming": "live (each track named when first seen)",
            }
            summary |= {
                "people_count": len(people) + self.totals.people_not_kept,
                "people_left_out": self.totals.people_not_kept,
                "people": people,
            }
        ended = self.reason or source.ended or "stopped"
        first = source.first_frame_s
        flowing = elapsed - first if first is not None else 0.0  # the sustained rate's time
        if self.error is not None:
            ended = f"error: {self.error}"
        summary["watch"] = {
            "source": self.watch.spec.text,
            "kind": self.watch.spec.kind,
            "started_at": started.isoformat(timespec="seconds"),
            "ended_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "ended": ended,
            "elapsed_s": round(elapsed, 3),
            "frames_decoded": source.decoded,
            "frames_sampled": source.sampled,
            "frames_analysed": self.analysed,
            "frames_dropped": source.dropped,
            "packets_undecodable": source.corrupt,
            "first_frame_s": None if first is None else round(first, 3),
            "sample_rate": round(self.analysed / flowing, 3) if flowing > 0 else 0.0,
            "latency_s": percentiles(self.all_latencies),
            "gap_count": source.gap_count,
            "gaps": [g.as_dict() for g in source.gaps],
        }
        if self.warnings:
            summary["warnings"] = self.warnings
        return rounded(summary)


def _warm_up(backend, identity: bool, log: Callable[[str], None]) -> None:
    """Load the models before the watch's clock starts (about a second: the networks'
    OpenCV copies ship in the package, nothing is converted), so the first frames are not
    dropped waiting for them: one call on a blank frame, and dlib's models when identity
    runs."""
    import numpy as np

    log("loading models")
    blank, box = np.zeros((160, 160, 3), np.uint8), np.array([[40, 40, 120, 120]], np.float32)
    backend.analyze([blank])
    emotions = getattr(backend, "emotions", None)  # the local backend's emotion model
    if emotions is not None:
        emotions.score_frames([blank], [box])
    if identity:
        face_encodings(blank, box)
