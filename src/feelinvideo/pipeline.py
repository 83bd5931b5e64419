"""The analyze pipeline: decode -> sample -> detect + score (backend) -> CSV, summary, overlay.

Streaming: frames come from a generator and go to the backend in batches of
``backend.batch_size`` sampled frames, so peak memory depends on the batch and the frame
size, not on the video's length. Only per-face numbers are kept (a few dozen bytes a
face). The overlay video is rendered in a second decoding pass (decoding costs about
1 ms a frame), which is what lets every output frame carry the latest sampled overlay
without buffering frames.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path, prepare_dir, write_json
from .backends import Backend
from .faces import Faces
from .render import FrameOverlay
from .schema import EMOTIONS, FACE_COLUMNS, IDENTITY_COLUMNS, format_time
from .summary import emotion_totals, time_windows
from .video import VideoInfo, iter_frames, probe

FACES_CSV = "faces.csv"
SUMMARY_JSON = "summary.json"
OVERLAY_MP4 = "overlay.mp4"
#: upper bound on the decoded RGB frames held for one backend call, in bytes
BATCH_BYTES = 50_000_000


@dataclass
class AnalyzeOptions:
    """Settings of one ``analyze`` run.

    Attributes:
        every_s: sampling interval in seconds of video time (>= 0; 0 = every frame).
        window_s: length of the summary's time windows in seconds (> 0).
        write_video: write ``overlay.mp4``.
        progress: show tqdm progress bars on stderr.
        identity: tell people apart (tracks, dlib embeddings, gallery names, unknown-N)
            and write ``people.json`` / ``people.png`` (see :mod:`feelinvideo.people`).
        gallery: gallery file whose enrolled names faces may take (None: everyone is an
            unknown person).
        tolerance: largest euclidean embedding distance (0-2; dlib's 0.6) to take a name.
        min_frames: people seen in fewer sampled frames are left out of people.json,
            people.png and the per-person summary (>= 1).
        thumbnails: draw face thumbnails in people.png (the only face crops written).
    """

    every_s: float = 1.0
    window_s: float = 10.0
    write_video: bool = True
    progress: bool = True
    identity: bool = True
    gallery: str | os.PathLike | None = None
    tolerance: float = 0.6
    min_frames: int = 1
    thumbnails: bool = True


@dataclass
class Analysis:
    """Result of :func:`analyze`: the output folder, the per-face table and the summary dict."""

    out_dir: Path
    faces: pd.DataFrame
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)


def default_out_dir(video_path: str | os.PathLike) -> Path:
    """``<video stem>_feelinvideo/`` beside the video."""
    path = Path(video_path)
    return path.with_name(f"{path.stem}_feelinvideo")


def _bar(total: float, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=round(total, 2),
        desc=desc,
        unit="s",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s video "
        "[{elapsed}<{remaining}]",
    )


def _face_rows(frame_index: int, timestamp_s: float, faces: Faces) -> list[dict]:
    rows = []
    dominant = faces.dominant_index
    for i in range(len(faces)):
        x1, y1, x2, y2 = (round(float(v), 1) for v in faces.xyxy[i])
        row = {
            "frame_index": frame_index,
            "timestamp_s": round(timestamp_s, 3),
            "time": format_time(timestamp_s),
            "face_index": i,
            "x_min": x1,
            "y_min": y1,
            "x_max": x2,
            "y_max": y2,
            "detection_confidence": round(float(faces.confidence[i]), 4),
        }
        for j, emotion in enumerate(EMOTIONS):
            row[emotion] = round(float(faces.scores[i, j]), 4)
        row["dominant_emotion"] = EMOTIONS[int(dominant[i])]
        for name, values in faces.extra.items():
            row[name] = values[i]
        rows.append(row)
    return rows


def analyze(
    video_path: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    backend: Backend | None = None,
    options: AnalyzeOptions | None = None,
) -> Analysis:
    """Analyse a video and write ``faces.csv``, ``summary.json`` and ``overlay.mp4``.

    Args:
        video_path: the video (any container/codec FFmpeg decodes).
        out_dir: output folder, created if needed (default :func:`default_out_dir`).
        backend: face/emotion backend (default :class:`feelinvideo.backends.LocalBackend`).
        options: sampling and output settings.

    Returns:
        the :class:`Analysis` (rows as in ``faces.csv``, the summary as in ``summary.json``).

    Raises:
        VideoError: missing, empty, non-video, corrupt or truncated input.
        OutputError: the output folder cannot be written.
        BackendError: the backend failed.
    """
    options = options or AnalyzeOptions()
    if options.every_s < 0:
        raise ValueError(f"every_s must be >= 0, got {options.every_s}")
    info = probe(video_path)
    out = Path(out_dir) if out_dir is not None else default_out_dir(video_path)
    created = not out.exists()
    prepare_dir(out)
    try:
        return _run(Path(video_path), out, info, backend, options)
    except BaseException:
        if created and out.exists() and not any(out.iterdir()):
            out.rmdir()
        raise


def _run(
    video_path: Path, out: Path, info: VideoInfo, backend, options: AnalyzeOptions
) -> Analysis:
    if backend is None:
        from .backends import LocalBackend

        backend = LocalBackend()
    rows: list[dict] = []
    overlays = []
    sampled = 0
    tracker = known = None
    overlay_tracks: list[np.ndarray] = []
    if options.identity:
        from .people import IdentityTracker

        if options.gallery is not None:
            from .gallery import read_gallery

            known = read_gallery(options.gallery)
        tracker = IdentityTracker(thumbnails=options.thumbnails)
    batch = []
    # frames per backend call: the backend's batch size, capped so one batch of decoded
    # frames stays under BATCH_BYTES (32 frames at 640x360, 8 at 1920x1080)
    batch_limit = max(1, min(backend.batch_size, BATCH_BYTES // (info.width * info.height * 3)))

    def flush() -> None:
        results = backend.analyze([f.image for f in batch])
        for frame, faces in zip(batch, results):
            frame_rows = _face_rows(frame.frame_index, frame.timestamp_s, faces)
            if tracker is not None:
                # who is who: link faces to tracks, embedding only the tracks that need it
                track_ids = tracker.update(frame.timestamp_s, frame.image, faces)
                for row, track_id in zip(frame_rows, track_ids):
                    row["track_id"] = int(track_id)
                if options.write_video:
                    overlay_tracks.append(track_ids)
            rows.extend(frame_rows)
            if options.write_video:
                dom = faces.dominant_index
                overlays.append(
                    FrameOverlay(
                        frame.timestamp_s,
                        faces.xyxy.copy(),
                        dom,
                        faces.scores[np.arange(len(faces)), dom] if len(faces) else np.zeros(0),
                        [""] * len(faces),
                    )
                )
        batch.clear()

    with _bar(info.duration_s, "analysing", options.progress) as bar:
        for frame in iter_frames(video_path, options.every_s):
            sampled += 1
            batch.append(frame)
            if len(batch) >= batch_limit:
                flush()
            bar.update(max(0.0, min(frame.timestamp_s, bar.total) - bar.n))
        if batch:
            flush()
        bar.update(max(0.0, bar.total - bar.n))

    identity_columns: list[str] = []
    if tracker is not None:
        from .people import apply_identities

        identities = tracker.resolve(known, options.tolerance)
        apply_identities(rows, identities)
        for overlay, track_ids in zip(overlays, overlay_tracks):
            overlay.names = [identities[int(t)].person for t in track_ids]
        identity_columns = list(IDENTITY_COLUMNS)
    extra = _extra_columns(rows, getattr(backend, "extra_columns", ()))
    extra = [c for c in extra if c not in IDENTITY_COLUMNS]
    df = pd.DataFrame(rows, columns=list(FACE_COLUMNS) + identity_columns + extra)
    summary = build_summary(df, info, sampled, backend.name, options)
    files = {}
    if tracker is not None:
        from .people import write_people

        block, written = write_people(
            out,
            df,
            identities,
            tracker,
            info.width,
            info.height,
            info.duration_s,
            min_frames=options.min_frames,
            thumbnails=options.thumbnails,
        )
        block["identity"] |= {
            "gallery": str(Path(options.gallery).resolve()) if options.gallery else None,
            "tolerance": options.tolerance,
        }
        summary.update(block)
        files.update({key: out / name for key, name in written.items()})
    if options.write_video:
        from .render import write_overlay

        with _bar(info.duration_s, "rendering", options.progress) as bar:

            def tick(t: float) -> None:
                bar.update(max(0.0, min(t, bar.total) - bar.n))

            write_overlay(video_path, out / OVERLAY_MP4, overlays, progress=tick)
        files["overlay"] = out / OVERLAY_MP4
    with atomic_path(out / FACES_CSV) as tmp:
        df.to_csv(tmp, index=False)
    files["faces_csv"] = out / FACES_CSV
    summary["outputs"] = {k: v.name for k, v in files.items()} | {"summary": SUMMARY_JSON}
    summary = _rounded(summary)
    write_json(out / SUMMARY_JSON, summary)
    files["summary"] = out / SUMMARY_JSON
    return Analysis(out, df, summary, files)


def _rounded(value, digits: int = 4):
    """``value`` with every float inside it (dicts, lists) rounded to ``digits`` decimals."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def _extra_columns(rows: list[dict], declared=()) -> list[str]:
    """Columns after FACE_COLUMNS: the backend's declared ``extra_columns`` first (present even
    when no face was found, so a backend's CSV always has the same header), then any other
    key found in any row, in order of first appearance."""
    extra = [k for k in declared if k not in FACE_COLUMNS]
    seen = set(FACE_COLUMNS) | set(extra)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                extra.append(key)
    return extra


def build_summary(
    df: pd.DataFrame, info: VideoInfo, sampled: int, backend: str, options: AnalyzeOptions
) -> dict:
    """The ``summary.json`` dict for one run (see the README's output schema)."""
    totals = emotion_totals(df)
    frames_with_faces = int(df["frame_index"].nunique()) if len(df) else 0
    summary = {
        "video": {
            "path": str(Path(info.path).resolve()),
            "duration_s": round(info.duration_s, 3),
            "fps": round(info.fps, 3),
            "width": info.width,
            "height": info.height,
            "frame_count": info.frame_count,
        },
        "backend": backend,
        "every_s": options.every_s,
        "window_s": options.window_s,
        "sampled_frames": sampled,
        "frames_with_faces": frames_with_faces,
        "faces": int(len(df)),
        **totals,
        "windows": time_windows(df, options.window_s, info.duration_s),
    }
    if not len(df):
        summary["message"] = "no faces were found"
    return summary


def describe(analysis: Analysis) -> str:
    """A short human summary of a run, for stdout."""
    s = analysis.summary
    video = s["video"]
    lines = [
        f"{Path(video['path']).name}: {video['duration_s']:.1f} s, "
        f"{video['width']}x{video['height']}, {s['sampled_frames']} sampled frames, "
        f"{s['frames_with_faces']} with faces, {s['faces']} faces",
    ]
    if not s["faces"]:
        lines.append("no faces were found")
    else:
        shares = sorted(s["dominant_share"].items(), key=lambda kv: -kv[1])
        lines.append(
            "dominant emotions: " + ", ".join(f"{e} {100 * v:.0f}%" for e, v in shares if v > 0)
        )
        lines.append(
            f"verdict: {s['verdict']} "
            f"(positive {s['positive']:.2f} vs negative {s['negative']:.2f})"
        )
        for w in s["windows"]:
            lines.append(
                f"  {format_time(w['start_s'], False)}-{format_time(w['end_s'], False)}  "
                f"{w['faces']:4d} faces  {w['dominant_emotion'] or '-'}"
            )
    if "people" in s:
        dropped = s["people_left_out"]
        left = f" ({dropped} seen too briefly left out)" if dropped else ""
        lines.append(f"people: {s['people_count']}{left}")
        for p in s["people"]:
            lines.append(
                f"  {p['person']:<20} {p['frames']:5d} frames  "
                f"{p['dominant_emotion'] or '-':<9} {p['verdict']}"
            )
    lines.append("wrote: " + ", ".join(str(analysis.out_dir / p) for p in s["outputs"].values()))
    return "\n".join(lines)
