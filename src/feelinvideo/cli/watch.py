"""``feelinvideo watch SOURCE``: options -> backend, gallery and settings ->
:class:`feelinvideo.watch.Watch` -> a line per window on stdout, status on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import VideoError
from ..schema import DEFAULT_EVERY_S, DEFAULT_WINDOW_S, counted
from ..settings import AnalyzeOptions
from ..specs import BackendSpec, GallerySpec
from ..watch import Watch, WatchSettings, parse_source
from ..watch.sink import RunFolder
from ..watch.source import READ_TIMEOUT_S
from ..watch.windows import describe_window
from .flags import (
    CONTEXT,
    Finite,
    aws_options,
    backend_option,
    detector_options,
    implicit_gallery,
    min_emotion_face_option,
    naming_options,
    reembed_option,
)

FORMATS = ("text", "jsonl")


@click.command(context_settings=CONTEXT)
@click.argument("source")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Output folder: faces.csv appended every window, summary.json and people.json when "
    "the watch ends (the schema of analyze; `feelinvideo report DIR` reads it). Default: "
    "nothing written.",
)
@click.option(
    "--every",
    type=Finite(min=0),
    default=DEFAULT_EVERY_S,
    show_default=True,
    help="Sampling interval in seconds of wall-clock time; 0 takes every frame analysis "
    "keeps up with.",
)
@click.option(
    "--window",
    type=Finite(min=0, min_open=True),
    default=DEFAULT_WINDOW_S,
    show_default=True,
    help="Seconds per window: one line on stdout, one faces.csv append, one metrics update.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="stdout: a text line per window, or one JSON object per window (jsonl).",
)
@click.option(
    "--duration",
    type=Finite(min=0, min_open=True),
    help="End by itself after this many seconds. Default: until the source ends, Ctrl-C or "
    "SIGTERM (each ends normally, with complete outputs).",
)
@click.option(
    "--realtime",
    is_flag=True,
    help="SOURCE is a file: play it at its own pace, as a camera would deliver it.",
)
@click.option(
    "--reconnect/--no-reconnect",
    default=None,
    help="Reopen a lost stream with backoff (0.5 s doubling to 10 s), logging each gap and "
    "writing it to summary.json. [default: on for URLs]",
)
@click.option(
    "--timeout",
    type=Finite(min=0, min_open=True),
    default=READ_TIMEOUT_S,
    show_default=True,
    help="Seconds without data after which a stream counts as lost (then reconnected or "
    "ended); a dead source never blocks the watch longer.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on http://0.0.0.0:PORT/metrics (faces in view, people "
    "present, emotion shares, frames analysed/dropped, latency).",
)
@detector_options
@backend_option(
    "Where faces and emotions come from: the local models, or Amazon Rekognition "
    "(needs pip install 'feelinvideo[aws]' and AWS credentials; sends frames to AWS)."
)
@aws_options
@naming_options
@reembed_option
@min_emotion_face_option
@click.option("--no-identity", is_flag=True, help="Skip who-is-who (no person columns, no people).")
@click.option("--quiet", "-q", is_flag=True, help="No status lines on stderr.")
def watch(
    source,
    out_dir,
    every,
    window,
    fmt,
    duration,
    realtime,
    reconnect,
    timeout,
    metrics_port,
    min_face,
    detector,
    backend,
    region,
    profile,
    gallery,
    no_gallery,
    tolerance,
    reembed_every,
    min_emotion_face,
    no_identity,
    quiet,
):
    """Watch a camera, a network stream or a file played live: faces and emotions as they
    happen, a line per window, Prometheus metrics.

    SOURCE is a camera (0, /dev/video0), a stream URL (rtsp://, rtmp://, srt://, udp://,
    http(s):// incl. HLS: whatever FFmpeg opens) or, with --realtime, a video file. Frames are
    sampled by the wall clock; when analysis falls behind, the older waiting frame is
    dropped (counted), never queued. Ctrl-C, SIGTERM and --duration end the watch normally:
    the last window is written and the exit status is 0.

    \b
    Examples:
      feelinvideo watch 0 --window 30
      feelinvideo watch rtsp://10.0.0.5:8554/room --out room_today --metrics-port 9108
      feelinvideo watch udp://127.0.0.1:5000 --format jsonl --duration 600
      feelinvideo watch lecture.mp4 --realtime --every 0.5
    """

    if gallery is not None and no_gallery:
        raise click.UsageError("--gallery and --no-gallery exclude each other")
    backend_spec = BackendSpec(backend, min_face, detector, region, profile).check()
    spec = parse_source(source)
    if spec.kind == "file" and not realtime:
        raise VideoError(
            f"{source}: a file; add --realtime to play it at its own pace, or use "
            "`feelinvideo analyze` to analyse it as fast as possible"
        )
    if out_dir is not None:
        RunFolder.check(out_dir)  # before the models load
    if gallery is None and not no_gallery and not no_identity:
        gallery = implicit_gallery()
    options = AnalyzeOptions(
        every_s=every,
        identity=not no_identity,
        tolerance=tolerance,
        reembed_every_s=reembed_every,
        thumbnails=False,
        write_video=False,
        min_emotion_face_px=min_emotion_face,
    )
    settings = WatchSettings(
        window_s=window,
        duration_s=duration,
        reconnect=reconnect,
        metrics_port=metrics_port,
        timeout_s=timeout,
    )

    def on_window(window_dict: dict) -> None:
        if fmt == "jsonl":
            click.echo(json.dumps(window_dict, ensure_ascii=False))
        else:
            clock = window_dict["time"][11:19]
            click.echo(describe_window(window_dict, clock))

    def log(line: str) -> None:
        if not quiet:
            click.echo(f"watch: {line}", err=True)

    engine = backend_spec.build()
    names = None
    if gallery is not None and not no_identity:
        names = GallerySpec(path=str(gallery)).open()
    try:
        session = Watch(
            spec,
            out_dir,
            backend=engine,
            gallery=names,
            options=options,
            settings=settings,
            on_window=on_window,
            log=log,
        )
        with _stopping_on_signals(session):
            summary = session.run()
    finally:
        if names is not None:
            names.close()
    w = summary["watch"]
    lat = w["latency_s"]
    latency = f", latency p50 {lat['p50']} s p95 {lat['p95']} s" if lat["p50"] is not None else ""
    log(
        f"ended ({w['ended']}) after {w['elapsed_s']:.1f} s: "
        f"{counted(w['frames_analysed'], 'frame')} analysed ({w['sample_rate']}/s), "
        f"{w['frames_dropped']} dropped, {counted(w['gap_count'], 'gap')}{latency}"
        + (f"; wrote {out_dir}" if out_dir is not None else "")
    )
    for warning in summary.get("warnings", []):
        click.echo(f"Warning: {warning}", err=True)


class _stopping_on_signals:
    """While active, SIGINT and SIGTERM end the watch normally (``Watch.stop``); a second
    one interrupts as for other commands (exit 130 / 143)."""

    def __init__(self, session):
        self.session = session
        self.previous: dict = {}

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        import signal

        click.echo("watch: stopping; writing the last window (again to interrupt)", err=True)
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.session.stop()

    def __exit__(self, *exc) -> None:
        import signal

        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
