"""PNG plots for ``feelinvideo report`` (matplotlib, drawn off-screen).

matplotlib is imported inside the functions, and only its object-oriented API is used
(``Figure`` + the Agg canvas, never ``pyplot``), so importing this module is cheap and
no global backend is switched. Names from the data are drawn as plain text (mathtext
off, so a ``$`` in a name is just a ``$``).
"""

from __future__ import annotations

import io

import pandas as pd

from ..schema import EMOTIONS, counted, format_time
from .formats import printable

#: One colour per emotion, the same in every plot.
EMOTION_COLORS: dict[str, str] = {
    "angry": "#d62728",
    "disgust": "#8c9a2b",
    "fear": "#9467bd",
    "happy": "#f2c12e",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
    "neutral": "#b9b9b9",
}

#: Most people drawn in the per-person plots (the most attending ones).
MAX_PEOPLE = 60
_DPI = 100
_LABEL_CHARS = 36


def _label(text: object) -> str:
    text = printable(text)
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


_TIME_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def _time_axis(ax, span: float) -> None:
    """Ticks at a round step (0.5 s ... 4 h) giving at most 10 ticks, labelled m:ss
    (``m:ss.s`` for sub-second steps; ``h:mm:ss`` past an hour)."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    step = next((s for s in _TIME_STEPS if span / s <= 10), _TIME_STEPS[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _pos: format_time(x, millis=step < 1, compact=True))
    )


def _margins(fig, left: float, right: float, top: float, bottom: float, **kw) -> None:
    """Place the axes with margins given in inches (cheaper than constrained layout)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        **kw,
    )


def _label_inches(labels) -> float:
    """Rough width in inches of the longest tick label at 9 pt."""
    return 0.3 + 0.068 * max((len(str(t)) for t in labels), default=4)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # zlib level 3: flat-colour charts compress almost as well as at 6, in about 2/3 the time
    fig.savefig(buf, format="png", dpi=_DPI, pil_kwargs={"compress_level": 3})
    return buf.getvalue()


def _render(draw) -> bytes:
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False, "font.size": 9}):
        return _png(draw())


def _empty(message: str, width: float = 8, height: float = 1.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555")
    return fig


def _top_people(people: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, str]:
    if len(people) <= limit:
        return people, ""
    keep = people["attended"].rank(method="first", ascending=False) <= limit
    return people[keep], f" (the {limit} most seen of {len(people)})"


def emotions_over_time(windows: pd.DataFrame) -> bytes:
    """Stacked area of the mean emotion scores per time window, one panel per video.

    Args:
        windows: the ``windows.csv`` table (:func:`feelinvideo.report.tables.window_table`):
            ``video``, ``start_s``, ``end_s``, ``faces`` and ``mean_<emotion>`` columns.

    Returns:
        PNG bytes. Windows without faces are left blank.
    """

    def draw():
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import PercentFormatter

        videos = list(dict.fromkeys(windows["video"]))
        if not videos:
            return _empty("no videos")
        height = 1.1 + 1.9 * len(videos)
        fig = Figure(figsize=(10, height))
        _margins(fig, 0.8, 0.25, 0.75, 0.55, hspace=0.75 * len(videos) / (height - 1.3))
        axes = fig.subplots(len(videos), 1, squeeze=False)[:, 0]
        for ax, video in zip(axes, videos):
            part = windows[windows["video"] == video].sort_values("start_s")
            x = list(part["start_s"]) + [float(part["end_s"].iloc[-1])]
            ys = []
            for e in EMOTIONS:
                values = list(part[f"mean_{e}"].astype(float))
                ys.append(values + values[-1:])
            ax.stackplot(
                x,
                ys,
                colors=[EMOTION_COLORS[e] for e in EMOTIONS],
                step="post",
                linewidth=0,
            )
            ax.set_xlim(x[0], x[-1] if x[-1] > x[0] else x[0] + 1)
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            _time_axis(ax, x[-1] - x[0])
            faces = int(part["faces"].sum())
            ax.set_title(f"{_label(video)} — {counted(faces, 'face')}", loc="left", fontsize=10)
            if faces == 0:
                ax.text(0.5, 0.5, "no faces", transform=ax.transAxes, ha="center", color="#555")
            ax.set_ylabel("mean score")
        axes[-1].set_xlabel("video time (m:ss)")
        handles = [Patch(color=EMOTION_COLORS[e], label=e) for e in EMOTIONS]
        fig.legend(
            handles=handles,
            loc="upper center",
            ncols=len(EMOTIONS),
            bbox_to_anchor=(0.5, 1 - 0.08 / height),
            frameon=False,
        )
        return fig

    return _render(draw)


def person_profiles(people: pd.DataFrame, limit: int = MAX_PEOPLE) -> bytes:
    """One horizontal bar per person, split by their mean score per emotion.

    Args:
        people: the ``class_summary.csv`` table (``person``, ``attended``, ``mean_<emotion>``).
        limit: most people drawn (those seen in the most frames).

    Returns:
        PNG bytes.
    """

    def draw():
        from matplotlib.figure import Figure
        from matplotlib.ticker import PercentFormatter

        if not len(people):
            return _empty("no faces were found")
        shown, note = _top_people(people, limit)
        n = len(shown)
        labels = [f"{_label(p)} ({a})" for p, a in zip(shown["person"], shown["attended"])]
        fig = Figure(figsize=(10, 1.4 + 0.32 * n))
        _margins(fig, _label_inches(labels), 0.3, 0.65, 0.55)
        ax = fig.add_subplot()
        y = list(range(n))
        left = [0.0] * n
        for e in EMOTIONS:
            values = list(shown[f"mean_{e}"].astype(float))
            ax.barh(y, values, left=left, color=EMOTION_COLORS[e], label=e, height=0.75)
            left = [a + b for a, b in zip(left, values)]
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("mean emotion score (frames seen in brackets)")
        ax.set_title("Emotion profile per person" + note, loc="left", fontsize=10, pad=4)
        fig.legend(loc="upper right", ncols=len(EMOTIONS), bbox_to_anchor=(1, 1), frameon=False)
        return fig

    return _render(draw)


def attendance(table: pd.DataFrame, limit: int = MAX_PEOPLE) -> bytes:
    """Sampled frames in which each person was seen, per video.

    A horizontal bar chart for one video, a person x video heat map (counts written in
    the cells) for several.

    Args:
        table: persons (index) x videos (columns) of attended frames
            (:func:`feelinvideo.report.tables.attendance_table`).
        limit: most people drawn (those seen in the most frames).

    Returns:
        PNG bytes.
    """

    def draw():
        from matplotlib.figure import Figure

        if table.empty:
            return _empty("no faces were found")
        totals = table.sum(axis=1)
        shown = table
        note = ""
        if len(table) > limit:
            keep = totals.rank(method="first", ascending=False) <= limit
            shown = table[keep]
            note = f" (the {limit} most seen of {len(table)})"
        people = [_label(p) for p in shown.index]
        videos = [_label(v) for v in shown.columns]
        n = len(people)
        if len(videos) == 1:
            fig = Figure(figsize=(10, 1.3 + 0.3 * n))
            _margins(fig, _label_inches(people), 0.3, 0.4, 0.55)
            ax = fig.add_subplot()
            values = list(shown.iloc[:, 0])
            ax.barh(range(n), values, color="#4c72b0", height=0.7)
            for i, v in enumerate(values):
                ax.text(v, i, f" {v}", va="center", fontsize=8)
            ax.set_yticks(range(n), people)
            ax.invert_yaxis()
            ax.set_xlabel(f"sampled frames seen in {videos[0]}")
            ax.set_xlim(0, max(values) * 1.12 if max(values) else 1)
            ax.set_title("Attendance" + note, loc="left", fontsize=10)
            return fig
        width = min(18.0, max(7.0, 3.0 + 0.55 * len(videos)))
        bottom = 0.3 + 0.05 * max(len(v) for v in videos)
        fig = Figure(figsize=(width, 0.6 + bottom + 0.3 * n))
        _margins(fig, _label_inches(people), 1.4, 0.4, bottom)
        ax = fig.add_subplot()
        data = shown.to_numpy(dtype=float)
        masked = data.copy()
        masked[masked == 0] = float("nan")
        image = ax.imshow(masked, aspect="auto", cmap="Blues", vmin=0, interpolation="nearest")
        ax.set_facecolor("#fafafa")
        if data.size <= 900:
            top = data.max() or 1
            for i in range(data.shape[0]):
                for j in range(data.shape[1]):
                    if data[i, j]:
                        color = "white" if data[i, j] > 0.6 * top else "black"
                        ax.text(
                            j,
                            i,
                            f"{int(data[i, j])}",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color=color,
                        )
        ax.set_yticks(range(n), people)
        ax.set_xticks(range(len(videos)), videos, rotation=40, ha="right")
        ax.set_title("Attendance: sampled frames seen per video" + note, loc="left", fontsize=10)
        box = ax.get_position()
        cax = fig.add_axes((1 - 1.1 / width, box.y0, 0.15 / width, box.height))
        fig.colorbar(image, cax=cax, label="frames seen")
        return fig

    return _render(draw)
