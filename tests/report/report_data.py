"""Synthetic ``analyze`` runs for the report tests: faces.csv tables and run folders.

Imported by the tests in this folder (``from report_data import ...``); no fixtures here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from feelinvideo.schema import EMOTIONS, FACE_COLUMNS

NASTY = "<script>alert(1)</script>"


def synthetic_faces(
    n_frames: int, people: list[str], every_s: float = 1.0, seed: int = 0
) -> pd.DataFrame:
    """A faces.csv table with a person column: each person in each frame, random scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_frames):
        for i, person in enumerate(people):
            scores = rng.dirichlet(np.ones(len(EMOTIONS)))
            rows.append(
                [f * 10, round(f * every_s, 3), "", i, 1.0, 2.0, 30.0, 40.0]
                + [round(float(rng.uniform(0.9, 1.0)), 4)]
                + [round(float(s), 4) for s in scores]
                + [EMOTIONS[int(np.argmax(scores))], person]
            )
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS) + ["person"])


def face_rows(*faces: tuple, side: float = 100.0) -> pd.DataFrame:
    """A faces.csv table from ``(frame_index, timestamp_s, person, emotion, score)`` tuples.

    Each face scores ``score`` on ``emotion`` and splits the rest evenly over ``neutral``
    (or over ``happy`` when ``emotion`` is neutral); detection confidence 1; boxes of
    ``side`` pixels (100: large enough for every emotion to count).
    """
    rows = []
    for face_index, (frame, t, person, emotion, score) in enumerate(faces):
        scores = dict.fromkeys(EMOTIONS, 0.0)
        scores[emotion] = score
        scores["neutral" if emotion != "neutral" else "happy"] += 1.0 - score
        dominant = max(scores, key=scores.get)
        rows.append(
            [frame, t, "", face_index, 0.0, 0.0, side, side, 1.0]
            + [scores[e] for e in EMOTIONS]
            + [dominant, person]
        )
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS) + ["person"])


def write_run(
    folder: Path,
    df: pd.DataFrame,
    duration_s: float | None = None,
    summary: dict | None = None,
) -> Path:
    """Write ``folder/faces.csv`` (and ``summary.json`` when ``duration_s`` or ``summary``)."""
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "faces.csv", index=False)
    if duration_s is not None or summary is not None:
        summary = dict(summary or {})
        video = {"path": f"/videos/{folder.name}.mp4"}
        if duration_s is not None:
            video["duration_s"] = duration_s
        summary["video"] = {**video, **summary.get("video", {})}
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder / "faces.csv"
