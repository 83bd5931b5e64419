"""The class summary on stdout: ``text``, ``json``, ``csv`` or ``markdown``.

Text and markdown tables are laid out by :mod:`tabulate`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..outputs.summary import emotion_totals
from ..outputs.table import safe_for_csv
from ..schema import (
    INTERESTED,
    NEUTRAL,
    NOT_INTERESTED,
    REPORT_FORMATS,
    counted,
    verdict_reason,
)

if TYPE_CHECKING:
    from . import Report

#: The ``--format`` choices.
FORMATS: tuple[str, ...] = REPORT_FORMATS

#: Columns of the short stdout table (text and markdown) and their headers.
SHORT_COLUMNS: dict[str, str] = {
    "person": "person",
    "videos": "videos",
    "attended": "attended",
    "dominant_emotion": "dominant",
    "positive": "positive",
    "negative": "negative",
    "verdict": "verdict",
}
_ALIGN = ("left", "right", "right", "left", "right", "right", "left")


def printable(text: object) -> str:
    """``str(text)`` with every non-printable character (newline, control) replaced by ``?``."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def people_count(n: int) -> str:
    """``"1 person"`` or ``"<n> people"``."""
    return "1 person" if n == 1 else f"{n} people"


def short_rows(people: pd.DataFrame) -> list[list[str]]:
    """The rows of the short table as text cells, in :data:`SHORT_COLUMNS` order.

    Args:
        people: the class summary (:func:`feelinvideo.report.tables.class_summary`).

    Returns:
        one list of 7 strings per person: names made printable, scores with 2 decimals.
    """
    return [
        [
            printable(rec["person"]),
            str(rec["videos"]),
            str(rec["attended"]),
            str(rec["dominant_emotion"]),
            f"{rec['positive']:.2f}",
            f"{rec['negative']:.2f}",
            str(rec["verdict"]),
        ]
        for rec in people.to_dict("records")
    ]


def videos_count(n: int) -> str:
    """``"1 video"`` or ``"<n> videos"``."""
    return "1 video" if n == 1 else f"{n} videos"


def left_out_note(report: Report) -> str:
    """``"; 1 more video failed or was left out (listed below)"``, or ``""``."""
    n = len(report.left_out)
    if not n:
        return ""
    verb = "video failed or was" if n == 1 else "videos failed or were"
    return f"; {n} more {verb} left out (listed below)"


def headline(report: Report) -> str:
    """One line saying what it pools: for one video its verdict with the numbers (per-face
    percentages), for several the verdict count over the videos, each judged on its own
    faces (no pooled verdict over unrelated videos); both say how many faces were too
    small for their emotion to count, and how many videos of the batches read failed or
    were left out."""
    return _headline(report) + left_out_note(report)


def left_out_lines(report: Report) -> list[str]:
    """``not in this report: N videos of batch.json`` and one indented
    ``<path>: <status>: <reason>`` line each (names made printable); ``[]`` for none."""
    if not report.left_out:
        return []
    lines = [f"not in this report: {videos_count(len(report.left_out))} (from batch.json)"]
    lines += [f"  {printable(left.line())}" for left in report.left_out]
    return lines


def brief_line(report: Report) -> str | None:
    """``left out as seen too briefly: 1 person (clip:unknown-5, 3 frames)``: the people
    the runs' ``analyze`` kept out of the class (:attr:`Run.brief`), or None."""
    brief = [(name, n) for run in report.runs for name, n in run.brief.items()]
    if not brief:
        return None
    shown = ", ".join(f"{printable(name)}, {counted(n, 'frame')}" for name, n in brief[:10])
    more = f", +{len(brief) - 10}" if len(brief) > 10 else ""
    return f"left out as seen too briefly: {people_count(len(brief))} ({shown}{more})"


def _headline(report: Report) -> str:
    t = report.totals
    people = people_count(len(report.people))
    left = report.faces - report.emotion_faces
    small = (
        f"; {counted(left, 'face')} under {report.min_emotion_face_px:g} px left out of the "
        "emotions"
        if left
        else ""
    )
    if len(report.runs) == 1:
        reason = verdict_reason(
            t["positive"],
            t["negative"],
            report.emotion_faces,
            t.get("dominant_emotion"),
            report.neutral_margin,
        )
        return (
            f"{report.runs[0].video}: {t['verdict']} ({reason}) over "
            f"{counted(report.faces, 'face')} of {people}{small}"
        )
    verdicts = [emotion_totals(r.faces, report.neutral_margin)["verdict"] for r in report.runs]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in (INTERESTED, NEUTRAL, NOT_INTERESTED))
    return (
        f"{len(report.runs)} videos, each judged on its own faces: {counts}; "
        f"{counted(report.faces, 'face')} of {people}{small}"
    )


def format_summary(report: Report, fmt: str = "text") -> str:
    """The class summary as text for stdout (no trailing newline).

    Args:
        report: a built (and possibly written) report.
        fmt: ``text`` (headline, aligned table or ``no faces were found``, the people
            seen too briefly, the videos that failed or were left out, the ``--db``
            outcome, files written), ``json`` (headline numbers, one object per person with
            every class_summary column, ``people_brief``, ``left_out``, files, ``db``),
            ``csv`` (the ``class_summary.csv`` content) or ``markdown`` (a GitHub table of
            the short columns, then the videos left out).

    Raises:
        ValueError: unknown ``fmt``.
    """
    if fmt == "json":
        return _json(report)
    if fmt == "csv":
        buf = io.StringIO()
        safe_for_csv(report.people).to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue().rstrip("\n")
    headers = list(SHORT_COLUMNS.values())
    rows = short_rows(report.people)
    if fmt == "markdown":
        cells = [[_markdown_cell(c) for c in row] for row in rows]
        table = _tabulate(cells, headers, "github")
        if not report.left_out:
            return table
        items = [f"- {_markdown_cell(printable(left.line()))}" for left in report.left_out]
        return "\n".join([table, "", "Not in this report (from batch.json):", "", *items])
    if fmt != "text":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    lines = [headline(report)]
    # the header as a plain first row: aligned like its column, no extra header padding
    lines.append(_tabulate([headers, *rows], (), "plain") if rows else "no faces were found")
    brief = brief_line(report)
    lines += [brief] if brief else []
    lines += left_out_lines(report)
    if report.db is not None:
        lines.append(
            f"database {report.db['path']}: added {len(report.db['added'])} run(s), "
            f"{len(report.db['already'])} already there"
        )
    if report.files:
        lines.append("wrote: " + ", ".join(str(p) for p in report.files.values()))
    return "\n".join(lines)


def _tabulate(rows: list[list[str]], headers: Sequence[str], tablefmt: str) -> str:
    text = tabulate(
        rows,
        headers=headers,
        tablefmt=tablefmt,
        colalign=_ALIGN,
        disable_numparse=True,
    )
    return "\n".join(line.rstrip() for line in text.splitlines())


def _markdown_cell(text: str) -> str:
    """A cell that cannot break the markdown table: ``\\`` and ``|`` escaped."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _json(report: Report) -> str:
    data = {
        "verdict": report.totals["verdict"],
        "positive": report.totals["positive"],
        "negative": report.totals["negative"],
        "videos": [r.video for r in report.runs],
        "faces": report.faces,
        "emotion_faces": report.emotion_faces,
        "min_emotion_face_px": report.min_emotion_face_px,
        "people": report.people.to_dict("records"),
        "people_brief": [
            {"video": run.video, "person": name, "frames": n}
            for run in report.runs
            for name, n in run.brief.items()
        ],
        "left_out": [
            {"path": x.path, "status": x.status, "reason": x.reason, "batch": str(x.batch)}
            for x in report.left_out
        ],
        "outputs": {k: str(v) for k, v in report.files.items()},
    }
    if report.db is not None:
        data["db"] = report.db
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
