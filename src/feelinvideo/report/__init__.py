"""``feelinvideo report``: class summary, time windows, plots, HTML and SQLite over many runs.

Every number comes from the runs' ``faces.csv`` files (and the video facts in the
``summary.json`` beside each, when present); nothing is recomputed from video.

The package, one concern per module:

- :mod:`~feelinvideo.report.load`: find, read and check ``faces.csv`` files; name people;
  the videos a batch's ``batch.json`` lists that failed or were left out.
- :mod:`~feelinvideo.report.tables`: class summary, attendance and time-window tables.
- :mod:`~feelinvideo.report.db`: the ``--db`` SQLite database.
- :mod:`~feelinvideo.report.formats`: the summary on stdout (text, json, csv, markdown).
- :mod:`~feelinvideo.report.html`: ``report.html`` from a Jinja2 template.
- :mod:`~feelinvideo.report.plots`: the PNG plots (matplotlib, imported only when drawn).

Use :func:`build_report` to compute (writes nothing), :func:`write_report` to write the
files, or :func:`make_report` for the whole command.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path, prepare_dir, staged_folder, write_text
from ..outputs.summary import check_min_emotion_face, emotion_totals, mark_reliable
from ..outputs.table import safe_for_csv
from ..schema import (
    CLASS_SUMMARY_CSV,
    DEFAULT_MIN_EMOTION_FACE_PX,
    DEFAULT_NEUTRAL_MARGIN,
    DEFAULT_REPORT_DIR,
    PLOT_FILES,
    REPORT_HTML,
    WINDOWS_CSV,
    check_margin,
)
from . import plots as plotting
from .db import append_to_db
from .formats import FORMATS, format_summary
from .html import render_html, video_plot_name
from .left_out import LeftOut, find_left_out
from .load import Run, find_csvs, load_runs, read_faces_csv
from .tables import (
    CLASS_SUMMARY_COLUMNS,
    DEFAULT_WINDOW_S,
    WINDOW_COLUMNS,
    all_faces,
    attendance_table,
    class_summary,
    presence_table,
    run_windows_s,
    window_table,
)

#: Default output folder of ``feelinvideo report``.
DEFAULT_OUT_DIR = DEFAULT_REPORT_DIR


@dataclass
class Report:
    """Everything ``feelinvideo report`` computes, before and after writing.

    Attributes:
        runs: the runs read.
        people: the class summary (:func:`class_summary`).
        windows: the time windows (:func:`window_table`).
        attendance: persons x videos attended frames (:func:`attendance_table`).
        totals: :func:`feelinvideo.outputs.summary.emotion_totals` over every face of every run.
        window_s: the window length asked for (seconds), or None: each video its own.
        presence: one row per person per video (:func:`presence_table`).
        windows_s: the window length of each video (name -> seconds).
        neutral_margin: the verdict's neutral margin per face used.
        min_emotion_face_px: the smallest face (pixels) whose emotion was counted.
        warnings: one line per problem that did not stop the report.
        left_out: the videos of the batches read (``batch.json``) that the report does not
            cover, failed or with no ``faces.csv``, each with its reason
            (:func:`feelinvideo.report.left_out.find_left_out`).
        out_dir: where the files went (after :func:`write_report`).
        files: name -> path of each file written (``class_summary``, ``windows``, the
            :data:`feelinvideo.schema.PLOT_FILES` keys, ``video_<k>_emotions`` (the k-th
            video's emotion mix plot), ``html``).
        db: ``{"path", "added", "already"}`` after :func:`append_to_db`.
    """

    runs: list[Run]
    people: pd.DataFrame
    windows: pd.DataFrame
    attendance: pd.DataFrame
    totals: dict
    window_s: float | None
    presence: pd.DataFrame = field(default_factory=pd.DataFrame)
    windows_s: dict[str, float] = field(default_factory=dict)
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN
    min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX
    warnings: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    db: dict | None = None

    @property
    def faces(self) -> int:
        """Faces (CSV rows) over all runs."""
        return int(sum(len(r.faces) for r in self.runs))

    @property
    def emotion_faces(self) -> int:
        """Faces over all runs whose emotion was counted (``emotion_reliable``)."""
        return int(self.totals.get("emotion_faces", self.faces))


def build_report(
    inputs: Iterable[str | os.PathLike],
    window_s: float | None = None,
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN,
    min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX,
) -> Report:
    """Read the runs and compute the tables (writes nothing).

    Args:
        inputs: ``faces.csv`` files or analysis output folders (see :func:`find_csvs`).
        window_s: time window length in seconds (> 0); None: a length per video giving
            about 30 windows (:func:`feelinvideo.report.tables.auto_window_s`).
        neutral_margin: the verdict's neutral margin per face, in [0, 1]
            (:func:`feelinvideo.schema.verdict`).
        min_emotion_face_px: count the emotions of faces whose ``face_px`` (the CSV's, else
            the longer side of the box) is at least this many pixels, in every run alike
            (0: every face); each run's faces get ``face_px`` and ``emotion_reliable``.

    Returns:
        the :class:`Report` (``out_dir``, ``files`` and ``db`` not yet set); its
        ``left_out`` lists the videos of any ``batch.json`` among the inputs that failed or
        have no ``faces.csv``.

    Raises:
        CsvError: a bad or missing input (see :func:`read_faces_csv`).
        ValueError: ``window_s`` <= 0, ``neutral_margin`` outside [0, 1] or
            ``min_emotion_face_px`` < 0.
    """
    if window_s is not None and not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    margin = check_margin(neutral_margin)
    threshold = check_min_emotion_face(min_emotion_face_px)
    warnings: list[str] = []
    inputs = list(inputs)
    runs = load_runs(inputs, warnings)
    for run in runs:
        run.faces = mark_reliable(run.faces, threshold)
    left_out = find_left_out(inputs, warnings)
    people = class_summary(runs, margin)
    return Report(
        runs=runs,
        people=people,
        windows=window_table(runs, window_s, margin),
        attendance=attendance_table(runs, list(people["person"])),
        totals=emotion_totals(all_faces(runs), margin),
        window_s=float(window_s) if window_s is not None else None,
        presence=presence_table(runs, margin),
        windows_s=run_windows_s(runs, window_s),
        neutral_margin=margin,
        min_emotion_face_px=threshold,
        warnings=warnings,
        left_out=left_out,
    )


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        safe_for_csv(df).to_csv(tmp, index=False, lineterminator="\n")


def write_report(
    report: Report,
    out_dir: str | os.PathLike,
    plots: bool = True,
    embed: bool = False,
    thumbnails: bool = True,
) -> Report:
    """Write ``class_summary.csv``, ``windows.csv``, the plots and ``report.html``.

    All or nothing: the files are staged beside ``out_dir`` and moved in together
    (:func:`feelinvideo.atomic.staged_folder`).

    Args:
        report: from :func:`build_report`.
        out_dir: output folder, created if needed.
        plots: draw the PNG plots (the class plots and one emotion mix per video).
        embed: put the images (plots, face thumbnails) into the page as ``data:`` URIs, so
            ``report.html`` alone can be mailed; else the page links them relative to its
            own folder (the plots in ``out_dir``, thumbnails in the run folders).
        thumbnails: show the runs' face thumbnails on the page.

    Returns:
        ``report`` with ``out_dir`` and ``files`` filled in.

    Raises:
        OutputError: the folder or a file cannot be written.
    """
    out = Path(out_dir)
    names = {"class_summary": CLASS_SUMMARY_CSV, "windows": WINDOWS_CSV}
    images: dict[str, bytes] = {}
    video_images: dict[str, bytes] = {}
    with staged_folder(out) as stage:
        _write_csv(stage / CLASS_SUMMARY_CSV, report.people)
        _write_csv(stage / WINDOWS_CSV, report.windows)
        if plots:
            images = {
                "emotions_over_time": plotting.emotions_over_time(report.windows),
                "person_profiles": plotting.person_profiles(report.people),
                "attendance": plotting.attendance(report.attendance),
            }
            for name, png in images.items():
                with atomic_path(stage / PLOT_FILES[name]) as tmp:
                    tmp.write_bytes(png)
                names[name] = PLOT_FILES[name]
            for k, run in enumerate(report.runs, start=1):
                part = report.windows[report.windows["video"] == run.video]
                name = video_plot_name(k)
                video_images[run.video] = png = plotting.emotions_over_time(part)
                with atomic_path(stage / name) as tmp:
                    tmp.write_bytes(png)
                names[name.removesuffix(".png")] = name
        page = render_html(
            report, images, out, embed=embed, video_images=video_images, thumbnails=thumbnails
        )
        write_text(stage / REPORT_HTML, page)
        names["html"] = REPORT_HTML
    report.out_dir = out
    report.files = {key: out / name for key, name in names.items()}
    return report


def make_report(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike = DEFAULT_OUT_DIR,
    window_s: float | None = None,
    db_path: str | os.PathLike | None = None,
    plots: bool = True,
    neutral_margin: float = DEFAULT_NEUTRAL_MARGIN,
    embed: bool = False,
    thumbnails: bool = True,
    min_emotion_face_px: float = DEFAULT_MIN_EMOTION_FACE_PX,
) -> Report:
    """The whole ``feelinvideo report`` command: read, compute, append to ``--db``, write files.

    Inputs are all read and checked, and the output folder checked, before anything is
    written; the database goes before the files so that a bad ``--db`` leaves no report
    (an output folder this call created is removed again when still empty).

    Args:
        inputs: ``faces.csv`` files or analysis output folders (see :func:`find_csvs`).
        out_dir: output folder, created if needed.
        window_s: time window length in seconds (> 0), or None: one per video.
        db_path: SQLite database to append the runs to, or None.
        plots: draw the PNG plots.
        neutral_margin, embed, thumbnails, min_emotion_face_px: see :func:`build_report`
            and :func:`write_report`.

    Returns:
        the written :class:`Report` (``files``, ``warnings``, ``db`` set); print it with
        :func:`format_summary`.

    Raises:
        CsvError: a bad input. OutputError: an output cannot be written.
        ValueError: ``window_s`` <= 0.
    """
    report = build_report(inputs, window_s, neutral_margin, min_emotion_face_px)
    out = Path(out_dir)
    created = not out.exists()
    prepare_dir(out)
    try:
        if db_path is not None:
            report.db = append_to_db(report.runs, db_path)
        write_report(report, out, plots=plots, embed=embed, thumbnails=thumbnails)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return report


__all__ = [
    "CLASS_SUMMARY_COLUMNS",
    "DEFAULT_OUT_DIR",
    "DEFAULT_WINDOW_S",
    "FORMATS",
    "WINDOW_COLUMNS",
    "LeftOut",
    "Report",
    "Run",
    "all_faces",
    "append_to_db",
    "attendance_table",
    "build_report",
    "class_summary",
    "find_csvs",
    "find_left_out",
    "format_summary",
    "load_runs",
    "make_report",
    "read_faces_csv",
    "render_html",
    "safe_for_csv",
    "window_table",
    "write_report",
]
