"""``feelinvideo report``: a class summary, windows, plots and HTML over many runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..report import format_summary, make_report
from ..schema import (
    DEFAULT_REPORT_DIR,
    REPORT_FORMATS,
)
from .flags import CONTEXT, Finite, min_emotion_face_option, neutral_margin_option


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path(DEFAULT_REPORT_DIR),
    show_default=True,
    help="Output folder for class_summary.csv, windows.csv, the PNG plots and report.html.",
)
@click.option(
    "--window",
    type=Finite(min=0, min_open=True),
    default=None,
    help="Length of the time windows in seconds, for every video. [default: per video, a "
    "round length giving about 30 windows and no shorter than its sampling interval]",
)
@neutral_margin_option
@min_emotion_face_option
@click.option(
    "--embed",
    is_flag=True,
    help="Put the images (plots, face thumbnails) into report.html as data: URIs, so the "
    "page alone can be mailed; by default it links them relative to its own folder.",
)
@click.option("--no-thumbnails", is_flag=True, help="Show no face thumbnails on the page.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="Also append the runs to this SQLite database (tables runs, faces); a run already "
    "in it is not added again.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="text",
    show_default=True,
    help="Format of the class summary printed on stdout.",
)
def report(
    inputs, out_dir, window, neutral_margin, min_emotion_face, embed, no_thumbnails, db_path, fmt
):
    """Class summary, time windows, plots and an offline HTML page over one or many runs.

    INPUTS are faces.csv files written by `analyze`, run folders holding one, or folders of
    run folders (a term of lectures). Each run's summary.json beside its CSV gives the video
    facts. People come from the CSV's person column; without one, each run's faces count
    as one unknown person. Unknown people are per video (<video>:unknown-N). Emotions are
    counted from faces of at least --min-emotion-face pixels (recomputed from each face's
    box, one threshold for the whole report); the page says how many were left out.

    \b
    Examples:
      feelinvideo report lecture_feelinvideo/
      feelinvideo report term/ --out term_report --window 300
      feelinvideo report week1/faces.csv week2/faces.csv --db term.sqlite
      feelinvideo report term/ --format markdown > summary.md
      feelinvideo report lecture_feelinvideo/ --embed --no-thumbnails
    """

    result = make_report(
        inputs,
        out_dir,
        window_s=window,
        db_path=db_path,
        neutral_margin=neutral_margin,
        min_emotion_face_px=min_emotion_face,
        embed=embed,
        thumbnails=not no_thumbnails,
    )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(format_summary(result, fmt))
    if fmt != "text":
        click.echo("wrote: " + ", ".join(str(p) for p in result.files.values()), err=True)
