"""The ``feelinvideo`` command line (click).

Library errors (:class:`feelinvideo.errors.FeelinvideoError`) become one-line messages
on stderr and a non-zero exit here, and only here. stdout carries results; progress
bars and warnings go to stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import __version__
from .errors import FeelinvideoError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: exit codes: 1 = bad input or failed run (click's usage errors use 2)
EXIT_ERROR = 1


class Group(click.Group):
    """Turns FeelinvideoError into ``Error: <one line>`` on stderr and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FeelinvideoError as exc:
            message = " ".join(str(exc).split())
            raise click.ClickException(message) from None


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="feelinvideo")
def main() -> None:
    """Who is in a video and how they feel, frame by frame and overall, offline.

    \b
    Examples:
      feelinvideo analyze lecture.mp4
      feelinvideo analyze lecture.mp4 --every 0.5 --out lecture_out
    """


@main.command(context_settings=CONTEXT)
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Output folder. Default: <video stem>_feelinvideo/ beside the video.",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Sampling interval in seconds of video time; 0 analyses every frame.",
)
@click.option(
    "--min-face",
    type=click.FloatRange(min=1, min_open=False),
    default=40,
    show_default=True,
    help="Smallest face side to find, in video pixels. Frames are scaled by 20/PX before "
    "detection, so larger is faster.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Length of the summary's time windows in seconds.",
)
@click.option("--no-video", is_flag=True, help="Do not write overlay.mp4.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def analyze(video, out_dir, every, min_face, window, no_video, quiet):
    """Find faces in VIDEO, score their emotions, write faces.csv, summary.json, overlay.mp4.

    \b
    Examples:
      feelinvideo analyze lecture.mp4
      feelinvideo analyze lecture.mp4 --every 0 --out results/
      feelinvideo analyze class.mov --every 2 --min-face 24 --no-video
    """
    from .backends import LocalBackend
    from .pipeline import AnalyzeOptions, analyze as run_analysis, describe

    options = AnalyzeOptions(
        every_s=every, window_s=window, write_video=not no_video, progress=not quiet
    )
    backend = LocalBackend(min_face_px=min_face)
    result = run_analysis(video, out_dir, backend=backend, options=options)
    click.echo(describe(result))


if __name__ == "__main__":  # pragma: no cover
    main()
