"""``feelinvideo analyze VIDEO...``: flags -> specs and settings -> one library call
(:func:`feelinvideo.analyze` for one video, :func:`feelinvideo.analyze_videos` for several or a
folder) -> a summary on stdout."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from tqdm import tqdm

from ..backends.rekognition.pricing import dry_run_plan
from ..galleries.collection import DEFAULT_FACE_MATCH_THRESHOLD
from ..runs.driver import analyze as analyze_video
from ..runs.driver import analyze_videos
from ..runs.index import BATCH_JSON, FAILED
from ..schema import (
    DEFAULT_BATCH_DIR,
    DEFAULT_EVERY_S,
    DEFAULT_SEGMENT_S,
    DEFAULT_SMOOTH_S,
    DEFAULT_WINDOW_S,
    OVERLAY_STYLES,
    WORK_DIR,
    default_run_dir,
)
from ..settings import AnalyzeOptions
from ..specs import ENGINES, BackendSpec, EngineSpec, GallerySpec
from ..video import estimate_sampled_frames, probe
from .flags import (
    CONTEXT,
    Finite,
    aws_options,
    backend_option,
    detector_options,
    implicit_gallery,
    min_emotion_face_option,
    naming_options,
    neutral_margin_option,
    reembed_option,
)


@click.command(context_settings=CONTEXT)
@click.argument(
    "videos", metavar="VIDEO...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Output folder. One video: default <video stem>_feelinvideo/ beside it. Several "
    f"videos or a folder: the parent of one run folder a video and {BATCH_JSON} "
    f"(default ./{DEFAULT_BATCH_DIR}/).",
)
@click.option(
    "--every",
    type=Finite(min=0),
    default=DEFAULT_EVERY_S,
    show_default=True,
    help="Sampling interval in seconds of video time; 0 analyses every frame.",
)
@detector_options
@click.option(
    "--window",
    type=Finite(min=0, min_open=True),
    default=DEFAULT_WINDOW_S,
    show_default=True,
    help="Length of the summary's time windows in seconds.",
)
@click.option("--no-video", is_flag=True, help="Do not write overlay.mp4.")
@click.option(
    "--overlay",
    type=click.Choice(OVERLAY_STYLES),
    default=OVERLAY_STYLES[0],
    show_default=True,
    help="How overlay.mp4 draws faces: an emoji over each face, a box in the emotion's "
    "colour (the face visible), or every face blurred (to share without showing faces); "
    "each with a label beside the face.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or notes on stderr.")
@backend_option(
    "Where faces and emotions come from: the local models, or Amazon Rekognition "
    "(needs pip install 'feelinvideo[aws]' and AWS credentials; sends frames to AWS)."
)
@aws_options
@click.option(
    "--collection",
    help="Rekognition face collection to name faces from (rekognition; see enroll).",
)
@click.option(
    "--face-match-threshold",
    type=Finite(0, 100),
    default=None,
    help="Smallest SearchFacesByImage similarity (0-100) that names a face (with "
    f"--collection). [default: {DEFAULT_FACE_MATCH_THRESHOLD:g}]",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print how many API calls the run would make and their cost; call and write nothing.",
)
@naming_options
@click.option(
    "--min-frames",
    type=click.IntRange(min=1),
    default=None,
    help="Leave people seen in fewer sampled frames out of people.json, people.png and "
    "the people of the summary (counted apart, as people_left_out). Default: unknown "
    "people seen in under 5% of the sampled frames and never on one track for 3 s (the "
    "phantom of a false detection or a split) are left out; enrolled people always count.",
)
@reembed_option
@click.option(
    "--smooth",
    type=Finite(min=0),
    default=DEFAULT_SMOOTH_S,
    show_default=True,
    help="Time constant in seconds of the per-track moving average of emotion scores the "
    "overlay shows (raw scores stay in faces.csv and make every sum); 0 = raw.",
)
@click.option(
    "--no-thumbnails",
    is_flag=True,
    help="No face thumbnails in people.png nor thumbnails/ (then no face crops are written "
    "anywhere, and the report shows none).",
)
@neutral_margin_option
@min_emotion_face_option
@click.option(
    "--no-identity",
    is_flag=True,
    help="Skip who-is-who (no person columns, people.json or people.png); a little faster.",
)
@click.option(
    "--segment",
    type=Finite(min=0),
    default=DEFAULT_SEGMENT_S,
    show_default=True,
    help="Cut videos longer than this many seconds into segments analysed independently "
    "(in parallel, resumable) and merged; 0 = one piece.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Segments and videos analysed at once, in worker processes that each load the "
    "models once (1 = in this process). [default: the number of cores; with --engine ray, "
    "the cluster's CPUs]",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(ENGINES),
    default="local",
    show_default=True,
    help="Where segments run: local processes, or a Ray cluster (needs pip install "
    "'feelinvideo[ray]'; the videos must be readable at the same path on every node).",
)
@click.option(
    "--address",
    help="Ray cluster address (with --engine ray), e.g. 10.0.0.5:6379 or auto. Default: "
    "$RAY_ADDRESS, else a local Ray started for the run.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Recompute segments kept from an interrupted run of the same command, and videos "
    "of a folder whose run folder already holds outputs of the same settings.",
)
@click.option(
    "--keep-work",
    is_flag=True,
    help=f"Keep the finished segments in {WORK_DIR}/ inside --out after the run.",
)
def analyze(videos, out_dir, quiet, dry_run, no_gallery, segment, force, keep_work, **flags):
    """Find faces in each VIDEO, score their emotions, write faces.csv, summary.json and
    overlay.mp4.

    VIDEO... are video files or folders (searched for videos). Several videos are analysed
    one after another with the models loaded once, each into its own run folder under
    --out, indexed in batch.json; one bad video does not stop the others (exit 1 at the end
    when any failed).

    \b
    Examples:
      feelinvideo analyze lecture.mp4
      feelinvideo analyze term/ --out term_runs --no-video
      feelinvideo analyze lecture.mp4 --every 0 --out results/
      feelinvideo analyze class.mov --every 2 --min-face 24 --no-video
      feelinvideo analyze lecture.mp4 --backend rekognition --region eu-west-1 --dry-run
      feelinvideo analyze lecture.mp4 --backend rekognition --collection class
      feelinvideo analyze class.mp4 --gallery students.sqlite --min-frames 5

    \b
    Who is who: faces are followed across sampled frames (overlapping boxes) and embedded
    with dlib's 128-d face descriptor when a track starts, after a cut or a weak link, and
    on a steady track at most once per --reembed-every seconds (default 20); named from the
    gallery when within --tolerance, and the rest grouped into distinct unknown people. faces.csv
    gains person, match_distance, track_id; people.json and people.png list who was seen
    when. Nothing leaves the machine.

    \b
    Long videos and many videos: videos are cut into --segment pieces, analysed on --jobs
    worker processes (or a Ray cluster, --engine ray), and merged into the same outputs.
    Finished segments are kept in --out until the run completes, so running the same
    command again after a crash or Ctrl-C computes only the rest.
    """
    if quiet:
        logging.getLogger("feelinvideo").setLevel(logging.WARNING)  # no notes either
    f = flags
    backend = BackendSpec(f["backend"], f["min_face"], f["detector"], f["region"], f["profile"])
    backend.check()
    gallery = analyze_gallery(f, no_gallery)
    if dry_run:
        if len(videos) != 1 or videos[0].is_dir():
            raise click.UsageError("--dry-run takes one video")
        click.echo(_dry_run(videos[0], f["every"], backend.kind, f["collection"]))
        return
    run = dict(
        backend=backend, gallery=gallery, options=analyze_options(f), segment_s=segment,
        jobs=f["jobs"], engine=f["engine_name"], address=f["address"], force=force,
        keep_work=keep_work, progress=not quiet,
    )  # fmt: skip
    EngineSpec(run["engine"], run["jobs"], run["address"]).check()
    if len(videos) == 1 and not videos[0].is_dir():
        out = out_dir if out_dir is not None else default_run_dir(videos[0])
        _echo_one(analyze_video(videos[0], out, **run))
    else:
        parent = out_dir if out_dir is not None else Path(DEFAULT_BATCH_DIR)
        _echo_batch(analyze_videos(videos, parent, on_item=_echo_item, **run))


def _echo_one(result) -> None:
    """One video: its warnings and reused segments on stderr, its summary on stdout."""
    for warning in result.summary.get("warnings", []):
        click.echo(f"Warning: {warning}", err=True)
    if result.segments > 1 and result.segments_computed < result.segments:
        click.echo(
            f"{result.segments - result.segments_computed} of {result.segments} segments "
            "reused from an interrupted run (--force recomputes them)",
            err=True,
        )
    click.echo(result.describe())


def _echo_item(item) -> None:
    """A video of a batch, on stdout as soon as it is settled: ``status<TAB>path<TAB>run
    folder or error``; written through tqdm so that the progress bar on stderr is cleared
    first and redrawn below the line."""
    where = item.out_dir if item.out_dir else item.error
    tqdm.write(f"{item.status}\t{item.path}\t{where}", file=sys.stdout)


def _echo_batch(batch) -> None:
    """Several videos, at the end (their lines were printed as each finished): the count
    on stderr, the failures again, exit 1 when any failed."""
    failed = [item for item in batch.items if item.status == FAILED]
    click.echo(
        f"{len(batch.items) - len(failed)} of {len(batch.items)} videos analysed into "
        f"{batch.out_dir}; index: {batch.index}",
        err=True,
    )
    for item in failed:
        click.echo(f"Error: {item.error}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


def analyze_gallery(f: dict, no_gallery: bool):
    """The gallery the flags name, as a spec (or None), after the flag-only rules."""

    if f["gallery"] is not None and no_gallery:
        raise click.UsageError("--gallery and --no-gallery exclude each other")
    if f["collection"] is not None:
        for flag, given in (
            ("--gallery", f["gallery"] is not None),
            ("--no-gallery", no_gallery),
            ("--no-identity", f["no_identity"]),
        ):
            if given:
                raise click.UsageError(f"--collection and {flag} exclude each other")
        return GallerySpec(
            collection=f["collection"],
            region=f["region"],
            profile=f["profile"],
            face_match_threshold=f["face_match_threshold"],
        ).check()
    if f["face_match_threshold"] is not None:
        raise click.UsageError("--face-match-threshold needs --collection")
    path = f["gallery"]
    if path is None and not no_gallery and not f["no_identity"]:
        path = implicit_gallery()
    return GallerySpec(path=str(path)).check() if path is not None else None


def analyze_options(f: dict):
    """The :class:`~feelinvideo.settings.AnalyzeOptions` the flags set."""

    return AnalyzeOptions(
        every_s=f["every"],
        window_s=f["window"],
        write_video=not f["no_video"],
        overlay=f["overlay"],
        identity=not f["no_identity"],
        tolerance=f["tolerance"],
        min_frames=f["min_frames"],
        reembed_every_s=f["reembed_every"],
        smooth_s=f["smooth"],
        thumbnails=not f["no_thumbnails"],
        neutral_margin=f["neutral_margin"],
        min_emotion_face_px=f["min_emotion_face"],
    )


def _dry_run(video: Path, every: float, backend: str, collection) -> str:
    """What ``--dry-run`` prints: the API calls and their cost; nothing is called or written."""
    if backend == "rekognition":
        return dry_run_plan(video, every, collection).describe()

    info = probe(video)
    frames = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every)
    return (
        f"dry run: {video.name}: {frames} sampled frames; the local backend makes no "
        "API calls (US$0); nothing was written"
    )
