"""The result of analysing one video (:class:`Analysis`, every field declared) and finishing
a video: from its time-ordered samples and identity stage to the ``faces.csv`` table, the
summary and the people (:func:`finish_analysis`). Files are written only by
:meth:`Analysis.save`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import OutputError
from .faces import Sample
from .identity.naming import name_faces
from .identity.stage import IdentityStage
from .outputs import people as people_out
from .outputs.save import save_analysis
from .outputs.summary import describe, rounded, run_summary
from .outputs.table import faces_table
from .schema import FACES_CSV, PEOPLE_JSON, SUMMARY_JSON
from .settings import AnalyzeOptions
from .specs import BackendSpec
from .video import VideoInfo


@dataclass
class Analysis:
    """The result of :func:`feelinvideo.analyze`: tables and summary in memory, files only on
    :meth:`save`.

    Attributes:
        video: the analysed video; info: its :class:`~feelinvideo.video.VideoInfo`.
        options: the settings used; backend: the backend's name.
        faces: the ``faces.csv`` table (one row per face per sampled frame).
        summary: the ``summary.json`` dict (``outputs`` is added by :meth:`save`).
        people: per person, as in ``summary["people"]`` (empty without identity).
        people_json: the ``people.json`` dict, or None without identity.
        samples: one :class:`~feelinvideo.faces.Sample` per sampled frame (the overlay
            draws them).
        thumbnails: face thumbnails per person (RGB uint8 (72, 72, 3)), or None.
        out_dir: the folder saved into, None until saved; files: output key -> path.
        segments: how many segments the video was analysed in (1: one piece).
        segments_computed: how many of them this run computed (the rest were kept from an
            interrupted run); 0 with ``reused``.
        seconds: wall time the analysis took, in seconds (the segments' times added up,
            plus the merge and the save).
        reused: the outputs were those of an earlier finished run, read back from
            ``out_dir`` (then ``samples`` is empty and ``thumbnails`` None: what the files
            hold is all there is).
        backend_spec: the :class:`~feelinvideo.specs.BackendSpec` the faces were found
            with, None when the backend was given as an object: the ``blur`` overlay
            rebuilds its detector from it to run it on every frame
            (:func:`feelinvideo.outputs.save.overlay_detector`).
    """

    video: Path
    info: VideoInfo
    options: AnalyzeOptions
    backend: str
    faces: pd.DataFrame
    summary: dict
    people: list[dict]
    people_json: dict | None
    samples: list[Sample]
    thumbnails: dict | None = None
    out_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    segments: int = 1
    segments_computed: int = 1
    seconds: float = 0.0
    reused: bool = False
    backend_spec: BackendSpec | None = None

    def save(
        self,
        out_dir: str | os.PathLike | None = None,
        progress: bool | Callable[[float], None] = False,
    ) -> dict:
        """Write the run's files into ``out_dir`` (default ``<video stem>_feelinvideo/``):
        ``faces.csv``, ``summary.json``, with identity ``people.json`` and ``people.png``,
        and ``overlay.mp4`` unless ``options.write_video`` is False. See
        :func:`feelinvideo.outputs.save.save_analysis`.

        Returns:
            output key -> path of each file written.

        Raises:
            OutputError: the folder cannot be written, or would overwrite the input video.
            VideoError: the video cannot be decoded again for the overlay.
        """

        return save_analysis(self, out_dir, progress=progress)

    def describe(self) -> str:
        """A short human summary for stdout (see :func:`feelinvideo.outputs.summary.describe`)."""

        return describe(self.summary, self.out_dir)


def finish_analysis(
    video: Path,
    info: VideoInfo,
    backend_name: str,
    backend_columns: tuple[str, ...],
    options: AnalyzeOptions,
    samples: list[Sample],
    stage: IdentityStage | None,
    notes: list[str],
    models: str = "",
    backend_spec: BackendSpec | None = None,
) -> Analysis:
    """Resolve who is who over the whole video (names, unknown-N) and build the
    :class:`Analysis` (table, summary, people) from the time-ordered ``samples`` and the
    identity ``stage`` that tracked them (one that ran over the video, or the merge of
    segments' stages); ``models`` names the backend's models in the summary,
    ``backend_spec`` is kept as :attr:`Analysis.backend_spec`."""

    gallery = stage.naming.gallery if stage is not None else None
    identities = {}
    if stage is not None:
        identities = stage.resolve()
        name = name_faces(identities)
        for sample in samples:
            name(sample.faces)
    columns = tuple(backend_columns) + (stage.columns if stage is not None else ())
    df = faces_table(
        samples,
        identity=stage is not None,
        data_columns=columns,
        min_emotion_face_px=options.min_emotion_face_px,
    )
    summary = run_summary(
        df,
        info,
        len(samples),
        backend_name,
        options.every_s,
        options.window_s,
        options.neutral_margin,
        options.min_emotion_face_px,
    )
    if models:
        summary["models"] = models
    if notes:
        summary["warnings"] = notes
    people: list[dict] = []
    people_json = thumbnails = None
    if stage is not None:
        work = people_out.with_enrolled(df)
        keep, dropped = people_out.kept_people(work, options.min_frames, len(samples))
        people = people_out.person_summaries(work, keep, options.neutral_margin)
        people_json = people_out.people_json(work, info.width, info.height, keep)
        if options.thumbnails:
            thumbnails = people_out.thumbnails_by_person(stage.tracker.tracks, identities)
        summary["identity"] = stage.stats() | {
            "min_frames": options.min_frames,
            **({"brief": people_out.brief_rule()} if options.min_frames is None else {}),
            "gallery": gallery.location if gallery is not None else None,
            "tolerance": options.tolerance,
        }
        summary |= {"people_count": len(keep), "people_left_out": len(dropped), "people": people}
    return Analysis(
        video=video,
        info=info,
        options=options,
        backend=backend_name,
        faces=df,
        summary=rounded(summary),
        people=people,
        people_json=people_json,
        samples=samples,
        thumbnails=thumbnails,
        backend_spec=backend_spec,
    )


def saved_analysis(
    video: Path, info: VideoInfo, options: AnalyzeOptions, out_dir: Path
) -> Analysis:
    """The :class:`Analysis` of a finished run read back from its folder (``faces.csv``,
    ``summary.json``, ``people.json``): what a rerun returns for a video whose outputs are
    kept, with the same ``summary``, ``faces``, ``people`` and ``describe()`` as the run
    that wrote them.

    Raises:
        OutputError: a file is missing or cannot be read.
    """
    import json

    out_dir = Path(out_dir)
    try:
        summary = json.loads((out_dir / SUMMARY_JSON).read_text(encoding="utf-8"))
        faces = pd.read_csv(out_dir / FACES_CSV)
        people_path = out_dir / PEOPLE_JSON
        people_json = (
            json.loads(people_path.read_text(encoding="utf-8")) if people_path.exists() else None
        )
    except (OSError, ValueError) as exc:
        raise OutputError(f"{out_dir}: the finished run cannot be read back ({exc})") from None
    files = {key: out_dir / name for key, name in summary.get("outputs", {}).items()}
    return Analysis(
        video=Path(video),
        info=info,
        options=options,
        backend=summary.get("backend", ""),
        faces=faces,
        summary=summary,
        people=summary.get("people", []),
        people_json=people_json,
        samples=[],
        out_dir=out_dir,
        files=files,
        segments_computed=0,
        reused=True,
    )
