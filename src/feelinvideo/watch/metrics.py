"""Prometheus metrics of a live watch (``--metrics-port``), served by ``prometheus-client``.

What a Grafana dashboard scrapes (``http://HOST:PORT/metrics``):

==========================================  =========  ==========================================
metric                                      type       meaning
==========================================  =========  ==========================================
``feelinvideo_faces_in_view``               gauge      faces in the latest analysed frame
``feelinvideo_people_present``              gauge      distinct people in the last window
``feelinvideo_emotion_share{emotion=...}``  gauge      share of the last window's faces whose
                                                       dominant emotion it is (0-1)
``feelinvideo_interest``                    gauge      last window's verdict: 1 interested,
                                                       0 neutral, -1 not interested
``feelinvideo_frames_analysed_total``       counter    sampled frames analysed
``feelinvideo_frames_dropped_total``        counter    sampled frames dropped (analysis behind)
``feelinvideo_faces_total``                 counter    faces found
``feelinvideo_stream_gaps_total``           counter    times the stream was lost
``feelinvideo_sample_rate``                 gauge      frames analysed per second, last window
``feelinvideo_latency_seconds``             histogram  frame arrival -> its row ready
==========================================  =========  ==========================================

Each watch has its own registry (not prometheus-client's global one), so several can run in
one process.
"""

from __future__ import annotations

from ..errors import OutputError
from ..schema import EMOTIONS, INTERESTED, NOT_INTERESTED

#: Latency histogram buckets, seconds.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class WatchMetrics:
    """The metrics above, optionally served over HTTP.

    Args:
        port: serve them on this TCP port (all interfaces, ``addr``), or None: only kept
            (tests read :attr:`registry`).
        addr: the address to listen on.

    Raises:
        OutputError: the port cannot be listened on (in use, no permission).
    """

    def __init__(self, port: int | None = None, addr: str = "0.0.0.0"):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.faces_in_view = Gauge(
            "feelinvideo_faces_in_view", "Faces in the latest analysed frame", registry=r
        )
        self.people_present = Gauge(
            "feelinvideo_people_present", "Distinct people in the last window", registry=r
        )
        self.emotion_share = Gauge(
            "feelinvideo_emotion_share",
            "Share of the last window's faces whose dominant emotion this is (0-1)",
            ["emotion"],
            registry=r,
        )
        self.interest = Gauge(
            "feelinvideo_interest",
            "Last window's verdict: 1 interested, 0 neutral, -1 not interested",
            registry=r,
        )
        self.frames_analysed = Counter(
            "feelinvideo_frames_analysed", "Sampled frames analysed", registry=r
        )
        self.frames_dropped = Counter(
            "feelinvideo_frames_dropped",
            "Sampled frames dropped because analysis was behind",
            registry=r,
        )
        self.faces = Counter("feelinvideo_faces", "Faces found", registry=r)
        self.gaps = Counter("feelinvideo_stream_gaps", "Times the stream was lost", registry=r)
        self.sample_rate = Gauge(
            "feelinvideo_sample_rate",
            "Frames analysed per second over the last window",
            registry=r,
        )
        self.latency = Histogram(
            "feelinvideo_latency_seconds",
            "Seconds from a frame's arrival to its faces' rows being ready",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        for emotion in EMOTIONS:
            self.emotion_share.labels(emotion=emotion).set(0.0)
        self._dropped = 0
        self._gaps = 0
        self.server = None
        if port is not None:
            from prometheus_client import start_http_server

            try:
                self.server, self._thread = start_http_server(port, addr=addr, registry=r)
            except OSError as exc:
                raise OutputError(
                    f"--metrics-port {port}: cannot listen ({exc.strerror or exc})"
                ) from None

    def frame(self, faces: int, latency_s: float) -> None:
        """One analysed frame with ``faces`` faces, ready ``latency_s`` after it arrived."""
        self.faces_in_view.set(faces)
        self.frames_analysed.inc()
        self.faces.inc(faces)
        self.latency.observe(max(0.0, latency_s))

    def window(self, window: dict, dropped_total: int, gaps_total: int, rate: float) -> None:
        """A window ended (:func:`feelinvideo.watch.windows.window_summary`); the source's
        dropped-frame and gap counts so far; frames analysed per second in it."""
        self.people_present.set(window.get("people", 0))
        for emotion, share in window["dominant_share"].items():
            self.emotion_share.labels(emotion=emotion).set(share)
        verdict = window["verdict"]
        self.interest.set(1 if verdict == INTERESTED else -1 if verdict == NOT_INTERESTED else 0)
        self.sample_rate.set(rate)
        self.sync(dropped_total, gaps_total)

    def sync(self, dropped_total: int, gaps_total: int) -> None:
        """Bring the dropped-frame and gap counters up to the source's counts."""
        if dropped_total > self._dropped:
            self.frames_dropped.inc(dropped_total - self._dropped)
            self._dropped = dropped_total
        if gaps_total > self._gaps:
            self.gaps.inc(gaps_total - self._gaps)
            self._gaps = gaps_total

    def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
