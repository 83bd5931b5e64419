"""``people.png``: one row per person, face thumbnails and a timeline of when they were seen."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..schema import counted
from .people import THUMBS_PER_PERSON


def draw_people(
    path: str | os.PathLike,
    df: pd.DataFrame,
    keep: list[str],
    duration_s: float,
    thumbnails: dict[str, list[np.ndarray]] | None,
) -> None:
    """Write ``people.png``: one row per person, thumbnails then a timeline.

    Each row shows up to four face thumbnails (left; omitted when ``thumbnails`` is None)
    and a time axis from 0 to ``duration_s`` seconds with a red mark at every sampled frame
    where the person appears (the seed's picture). Written atomically, with matplotlib's
    object API (no pyplot: a notebook's or GUI's backend and figures are left alone).

    Raises:
        OutputError: the file cannot be written.
    """
    from matplotlib.figure import Figure

    rows = max(1, len(keep))
    thumb_cols = THUMBS_PER_PERSON if thumbnails is not None else 0
    fig_w = 10.0
    row_h = 0.9
    fig = Figure(figsize=(fig_w, 0.6 + row_h * rows), dpi=100)
    label_w, thumb_w = 0.16, 0.075
    timeline_left = label_w + thumb_cols * thumb_w + 0.01
    top, bottom = 1 - 0.25 / fig.get_figheight(), 0.45 / fig.get_figheight()
    h = (top - bottom) / rows
    end = max(float(duration_s), float(df["timestamp_s"].max()) if len(df) else 0.0, 1e-3)
    if not keep:
        fig.text(0.5, 0.5, "no people found", ha="center", va="center")
    for k, name in enumerate(keep):
        y0 = top - (k + 1) * h
        times = df.loc[df["person"] == name, "timestamp_s"].to_numpy(dtype=float)
        enrolled = bool(df.loc[df["person"] == name, "enrolled"].iloc[0])
        fig.text(
            0.01,
            y0 + h / 2,
            name,
            ha="left",
            va="center",
            fontsize=10,
            fontweight="bold" if enrolled else "normal",
        )
        for j, thumb in enumerate((thumbnails or {}).get(name, [])[:thumb_cols]):
            ax = fig.add_axes([label_w + j * thumb_w, y0 + 0.08 * h, thumb_w * 0.95, 0.84 * h])
            ax.imshow(thumb)
            ax.set_axis_off()
        ax = fig.add_axes([timeline_left, y0 + 0.3 * h, 0.98 - timeline_left, 0.4 * h])
        ax.vlines(times, 0, 1, colors="red", linewidth=1.2)
        ax.set_xlim(-0.01 * end, 1.01 * end)  # marks at 0 and at the end stay visible
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(
            1.0,
            1.05,
            counted(len(np.unique(times)), "frame"),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.3",
        )
        if k < len(keep) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("video time (s)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
