"""The evaluation results as text (tables by ``tabulate``), JSON or CSV, for stdout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tabulate import tabulate

from ..schema import EMOTIONS, csv_safe
from .emotions import EmotionEvaluation
from .identity import IdentityEvaluation
from .placed import PipelineEvaluation

FORMATS: tuple[str, ...] = ("text", "json", "csv")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_emotions(result: EmotionEvaluation, fmt: str = "text") -> str:
    """``text``: accuracy line, per-class recall and the confusion matrix; ``json``: the
    :meth:`~EmotionEvaluation.as_dict`; ``csv``: the confusion matrix, one row per true
    emotion with its count and recall."""
    if fmt == "json":
        return json.dumps(result.as_dict(), indent=2)
    rows = [
        [e, *result.confusion[k].tolist(), int(result.confusion[k].sum()), result.recall[e]]
        for k, e in enumerate(EMOTIONS)
    ]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["true", *(f"predicted_{e}" for e in EMOTIONS), "images", "recall"])
        writer.writerows([r[:-1] + ["" if r[-1] is None else round(r[-1], 4)] for r in rows])
        return buf.getvalue().rstrip("\n")
    head = (
        f"accuracy {_pct(result.accuracy)} on {result.scored} images with a face "
        f"({result.images} images, {result.no_face} with no face found)"
    )
    if result.rule is not None:
        head += f"\npreprocessing: {result.rule}"
    if result.reference is not None:
        head += (
            f"\nreference: {result.reference_rule}: {_pct(result.reference.accuracy)} on the "
            f"same faces; the preprocessing adds {_points(result.gain)}"
        )
    table = tabulate(
        [r[:-1] + [_pct(r[-1])] for r in rows],
        headers=["true \\ predicted", *EMOTIONS, "images", "recall"],
        tablefmt="simple",
    )
    return head + "\n\n" + table


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} points"


def format_pipeline(result: PipelineEvaluation, fmt: str = "text") -> str:
    """``text``: what was measured, then one row per face size (faces placed and found,
    median ``face_px``, accuracy, the reference's, the difference); ``json``: the
    :meth:`~PipelineEvaluation.as_dict` (save it as ``evaluation.json`` for the report);
    ``csv``: the rows of the text table."""
    data = result.as_dict()
    if fmt == "json":
        return json.dumps(data, indent=2)
    rows = []
    for s in result.sizes:
        reference = s.reference.accuracy if s.reference is not None else None
        gain = None
        if reference is not None and s.result.accuracy is not None:
            gain = s.result.accuracy - reference
        rows.append([s.size_px, s.placed, s.detected, s.detection_rate, s.face_px,
                     s.result.accuracy, reference, gain])  # fmt: skip
    headers = ["size_px", "placed", "found", "detection_rate", "face_px", "accuracy",
               "reference_accuracy", "gain"]  # fmt: skip
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if v is None else round(v, 4) if isinstance(v, float) else v
                             for v in row])  # fmt: skip
        return buf.getvalue().rstrip("\n")
    crops = (
        "" if result.crops is None else f"; on the crops themselves {_pct(result.crops.accuracy)}"
    )
    lines = [
        f"accuracy {_pct(data['accuracy'])} through the pipeline on {data['scored']} faces "
        f"found ({result.images} labelled images placed at each size into {result.backgrounds}"
        f" background frames{crops})",
        f"crop rule: {result.rule}"
        + (f"; reference: {result.reference_rule}" if result.reference_rule else ""),
        "",
        tabulate(
            [
                [
                    r[0],
                    r[1],
                    r[2],
                    _pct(r[3]),
                    "-" if r[4] is None else f"{r[4]:g}",
                    _pct(r[5]),
                    _pct(r[6]),
                    _points(r[7]),
                ]
                for r in rows
            ],  # fmt: skip
            headers=[
                "face placed (px)",
                "placed",
                "found",
                "found %",
                "face_px found",
                "accuracy",
                "reference",
                "rule adds",
            ],  # fmt: skip
            tablefmt="simple",
        ),
    ]
    return "\n".join(lines)


def format_identity(result: IdentityEvaluation, fmt: str = "text") -> str:
    """``text``: rank-1 accuracy, counts and distance quantiles, then the wrong names;
    ``json``: the :meth:`~IdentityEvaluation.as_dict`; ``csv``: one row per probe."""
    data = result.as_dict()
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["photo", "person", "named", "distance", "size_px"])
        for r in data["results"]:
            writer.writerow([csv_safe(str(r[k]) if r[k] is not None else "") for k in r] + [""])
        for size in data["sizes"]:
            for r in size["results"]:
                row = [r["photo"], r["person"], r["named"], r["distance"], size["size_px"]]
                writer.writerow([csv_safe("" if v is None else str(v)) for v in row])
        return buf.getvalue().rstrip("\n")
    lines = [
        f"rank-1 accuracy {_pct(result.accuracy)}: {result.right} of {len(result.probes)} "
        f"probes named right, {len(result.wrong)} wrong, {result.unknown} unknown "
        f"({len(result.enrolled)} people enrolled, one photo each; {result.no_face} probes "
        f"with no face; gallery {result.gallery}, tolerance {result.tolerance:g})",
        "",
        tabulate(
            [[name, *q.values()] for name, q in data["distances"].items()],
            headers=["distances", "count", "min", "median", "max"],
            tablefmt="simple",
            missingval="-",
        ),
    ]
    if result.wrong:
        lines += ["", "wrong names:"]
        lines += [f"  {p.path.name}: {p.person} named {p.named}" for p in result.wrong]
    if data["sizes"]:
        rows = [
            [
                r["size_px"],
                f"{r['found']}/{r['shown']}",
                _pct(r["accuracy"]),
                r["right"],
                r["wrong"],
                r["unknown"],
                r["genuine"]["median"],
                r["genuine"]["max"],
                r["impostor"]["min"],
            ]
            for r in data["sizes"]
        ]
        headers = ["face px", "found", "rank-1", "right", "wrong", "unknown"]
        headers += ["genuine median", "genuine max", "impostor min"]
        lines += ["", "by face size (probes shown small in a 1280x720 H.264 frame):"]
        lines.append(tabulate(rows, headers=headers, tablefmt="simple", missingval="-"))
        for r in data["sizes"]:
            lines += [
                f"  {r['size_px']} px: {Path(w['photo']).name}: {w['person']} named {w['named']}"
                for w in r["wrong_names"]
            ]
    return "\n".join(lines)
