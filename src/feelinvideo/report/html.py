"""``report.html``: one self-contained page rendered from ``templates/report.html.j2``.

The page has inline CSS, the plots as ``data:`` PNGs, no scripts and a Content Security
Policy that forbids any other resource, so it opens offline and can be mailed. Jinja2
renders it with autoescape on: every name, path or warning from the data is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd

from ..outputs.summary import emotion_totals
from ..schema import EMOTIONS, INTERESTED, NOT_INTERESTED
from .formats import people_count
from .runs import Run, finite_number
from .tables import CLASS_SUMMARY_COLUMNS, WINDOW_COLUMNS

if TYPE_CHECKING:
    from . import Report

TEMPLATE = "report.html.j2"

#: Section title of each plot (keys of :data:`feelinvideo.schema.PLOT_FILES`).
PLOT_TITLES: dict[str, str] = {
    "emotions_over_time": "The class's emotion mix over time",
    "person_profiles": "Each person's emotion profile",
    "attendance": "Attendance per person and video",
}

_PERCENT = {f"mean_{e}": ".0%" for e in EMOTIONS}
#: the class table of the page: class_summary.csv without its sums
_PEOPLE_COLUMNS = tuple(c for c in CLASS_SUMMARY_COLUMNS if not c.startswith("sum_"))
_PEOPLE_FORMATS = {"videos": "d", "attended": "d", "positive": ".2f", "negative": ".2f"}
_WINDOW_FORMATS = {"faces": "d", "frames": "d", "people": "d", "positive": ".2f", "negative": ".2f"}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feelinvideo.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(report: Report, images: dict[str, bytes], out_dir: Path) -> str:
    """The self-contained ``report.html`` text.

    Args:
        report: a built report (:func:`feelinvideo.report.build_report`).
        images: plot name (a key of :data:`PLOT_TITLES`) -> PNG bytes, embedded in that
            order as ``data:`` URIs; empty for a page without plots.
        out_dir: the folder the page goes to; links to the runs' ``overlay.mp4`` are
            relative to it.

    Returns:
        the HTML document (str, ends with a newline).

    Raises:
        KeyError: an image name not in :data:`PLOT_TITLES`.
    """
    from .. import __version__

    windows = report.windows
    context = {
        "head": _headline(report),
        "runs": [_run_row(run, out_dir) for run in report.runs],
        "figures": [
            {"title": PLOT_TITLES[name], "data": base64.b64encode(png).decode("ascii")}
            for name, png in images.items()
        ],
        "people_table": _table(report.people, _PEOPLE_COLUMNS, {**_PEOPLE_FORMATS, **_PERCENT}),
        "windows_table": _table(
            windows,
            [c for c in WINDOW_COLUMNS if c not in ("window", "start_s", "end_s")],
            {**_WINDOW_FORMATS, **_PERCENT},
        ),
        "fallback": [r.video for r in report.runs if not r.has_person],
        "warnings": report.warnings,
        "version": __version__,
        "generated": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    return _environment().get_template(TEMPLATE).render(context)


def _headline(report: Report) -> dict:
    t = report.totals
    videos = len(report.runs)
    return {
        "css": {INTERESTED: "interested", NOT_INTERESTED: "not-interested"}.get(
            t["verdict"], "neutral"
        ),
        "verdict": t["verdict"],
        "positive": f"{t['positive']:.2f}",
        "negative": f"{t['negative']:.2f}",
        "faces": report.faces,
        "people": people_count(len(report.people)),
        "videos": f"{videos} video{'s' if videos != 1 else ''}",
        "windows_interested": int((report.windows["verdict"] == INTERESTED).sum()),
        "windows_with_faces": int((report.windows["faces"] > 0).sum()),
        "window_s": f"{report.window_s:g}",
    }


def _run_row(run: Run, out_dir: Path) -> dict:
    info = run.video_info
    faces = len(run.faces)
    width, height = finite_number(info.get("width")), finite_number(info.get("height"))
    overlay = run.overlay
    sampled = run.sampled_frames
    return {
        "video": run.video,
        "duration": f"{run.duration_s:.1f} s",
        "size": f"{info['width']}×{info['height']}" if width and height else "—",
        "sampled": sampled if sampled is not None else "—",
        "frames": int(run.faces["frame_index"].nunique()) if faces else 0,
        "faces": faces,
        "people": int(run.faces["person"].nunique()) if faces else 0,
        "verdict": emotion_totals(run.faces)["verdict"],
        "overlay_href": _href(overlay, out_dir) if overlay is not None else None,
        "csv_path": str(run.csv_path),
        "csv_name": run.csv_path.name,
    }


def _href(target: Path, base: Path) -> str:
    try:
        rel = Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # another drive on Windows
        return target.resolve().as_uri()
    return quote(rel)


def _header(column: str) -> str:
    if column.startswith("mean_"):
        return column[len("mean_") :]
    return {"dominant_emotion": "dominant", "attended": "attended (frames)"}.get(column, column)


def _table(df: pd.DataFrame, columns: Sequence[str], formats: dict[str, str]) -> dict:
    """A table for the template's ``table`` macro: numbers in ``formats`` columns are
    formatted and right-aligned, every other value is shown as text (escaped there)."""
    rows = []
    for rec in df[list(columns)].itertuples(index=False, name=None):
        row = []
        for column, value in zip(columns, rec):
            if column in formats and isinstance(value, (int, float, np.number)):
                row.append({"text": format(value, formats[column]), "numeric": True})
            else:
                row.append({"text": str(value), "numeric": False})
        rows.append(row)
    return {"columns": [(c, _header(c)) for c in columns], "rows": rows}
