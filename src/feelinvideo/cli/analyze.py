"""``feelinvideo analyze VIDEO``: options -> backend, gallery and settings ->
:func:`feelinvideo.analyze` -> files and a summary on stdout."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..engines import ENGINES
from ..galleries.collection import DEFAULT_FACE_MATCH_THRESHOLD
from ..runs.index import BATCH_JSON
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
from .flags import (
    CONTEXT,
    Finite,
    aws_options,
    backend_option,
    detector_options,
    implicit_gallery,
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
    default=1,
    show_default=True,
    help="Leave people seen in fewer sampled frames out of people.json and people.png "
    "(they are counted in the summary).",
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
    help="Recompute segments kept from an interrupted run of the same command.",
)
@click.option(
    "--keep-work",
    is_flag=True,
    help=f"Keep the finished segments in {WORK_DIR}/ inside --out after the run.",
)
def analyze(
    videos,
    out_dir,
    every,
    min_face,
    detector,
    window,
    no_video,
    overlay,
    quiet,
    backend,
    region,
    profile,
    collection,
    face_match_threshold,
    dry_run,
    gallery,
    no_gallery,
    tolerance,
    min_frames,
    reembed_every,
    smooth,
    no_thumbnails,
    neutral_margin,
    no_identity,
    segment,
    jobs,
    engine_name,
    address,
    force,
    keep_work,
):
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
    Who is who: faces are followed across sampled frames (overlapping boxes), embedded with
    dlib's 128-d face descriptor about once a second per face track, named from the gallery
    when within --tolerance, and the rest grouped into distinct unknown people. faces.csv
    gains person, match_distance, track_id; people.json and people.png list who was seen
    when. Nothing leaves the machine.

    \b
    Long videos and many videos: videos are cut into --segment pieces, analysed on --jobs
    worker processes (or a Ray cluster, --engine ray), and merged into the same outputs.
    Finished segments are kept in --out until the run completes, so running the same
    command again after a crash or Ctrl-C computes only the rest.
    """
    from ..engines import make_engine
    from ..runs import BackendSpec, GallerySpec
    from ..settings import AnalyzeOptions

    if quiet:
        logging.getLogger("feelinvideo").setLevel(logging.WARNING)  # no notes either
    aws_only = {
        "--region": region,
        "--profile": profile,
        "--collection": collection,
        "--face-match-threshold": face_match_threshold,
    }
    if backend != "rekognition" and any(v is not None for v in aws_only.values()):
        given = ", ".join(k for k, v in aws_only.items() if v is not None)
        raise click.UsageError(f"{given} only apply to --backend rekognition")
    single = len(videos) == 1 and not videos[0].is_dir()
    if dry_run:
        if not single:
            raise click.UsageError("--dry-run takes one video")
        click.echo(_dry_run(videos[0], every, backend, collection))
        return
    if gallery is not None and no_gallery:
        raise click.UsageError("--gallery and --no-gallery exclude each other")
    if collection is not None:
        for flag, given in (
            ("--gallery", gallery is not None),
            ("--no-gallery", no_gallery),
            ("--no-identity", no_identity),
        ):
            if given:
                raise click.UsageError(f"--collection and {flag} exclude each other")
    if face_match_threshold is not None and collection is None:
        raise click.UsageError("--face-match-threshold needs --collection")
    if gallery is None and collection is None and not no_gallery and not no_identity:
        gallery = implicit_gallery()
    options = AnalyzeOptions(
        every_s=every,
        window_s=window,
        write_video=not no_video,
        overlay=overlay,
        identity=not no_identity,
        tolerance=tolerance,
        min_frames=min_frames,
        reembed_every_s=reembed_every,
        smooth_s=smooth,
        thumbnails=not no_thumbnails,
        neutral_margin=neutral_margin,
    )
    if backend == "rekognition" and detector != "mtcnn":
        raise click.UsageError("--detector applies to the local backend only")
    if address is not None and engine_name != "ray":
        raise click.UsageError("--address applies to --engine ray only")
    spec = BackendSpec(backend, min_face, detector, region, profile)
    gallery_spec = None
    if collection is not None:
        gallery_spec = GallerySpec(
            collection=collection,
            region=region,
            profile=profile,
            face_match_threshold=face_match_threshold,
        )
    elif gallery is not None and not no_identity:
        gallery_spec = GallerySpec(path=str(gallery))
    names = None
    if collection is not None:
        from ..galleries.open import open_gallery

        names = open_gallery(
            collection=collection,
            region=region,
            profile=profile,
            face_match_threshold=face_match_threshold,
        )
    elif gallery is not None and not no_identity:
        from ..galleries.open import open_gallery

        names = open_gallery(gallery)
    try:
        # built here (models load lazily) so that missing credentials or extras are reported
        # before any work starts; the in-process engine uses it
        runner = make_engine(engine_name, jobs, address, backend=spec.build(), gallery=names)
        run = {
            "options": options,
            "backend": spec,
            "gallery": gallery_spec,
            "segment_s": segment,
            "force": force,
            "open_gallery": names,
        }
        if not single:
            _batch(videos, out_dir, runner, run, keep_work, quiet)
            return
        out = out_dir if out_dir is not None else default_run_dir(videos[0])
        result = _one(videos[0], out, runner, run, keep_work, quiet)
    finally:
        if names is not None:
            names.close()
    for warning in result.summary.get("warnings", []):
        click.echo(f"Warning: {warning}", err=True)
    if result.segments > 1 and result.segments_computed < result.segments:
        click.echo(
            f"{result.segments - result.segments_computed} of {result.segments} segments "
            "reused from an interrupted run (--force recomputes them)",
            err=True,
        )
    click.echo(result.describe())


def _one(video: Path, out: Path, runner, run: dict, keep_work: bool, quiet: bool):
    """One video into ``out``; a failure leaves no folder the run created behind (an
    interrupt keeps the finished segments for a rerun)."""
    import shutil

    from ..errors import FeelinvideoError
    from ..progress import advance_to, progress_bar
    from ..runs import VideoRun, run_videos
    from ..video import probe

    info = probe(video)
    existed = out.exists()
    result = None
    try:
        with progress_bar(info.duration_s, "analysing", not quiet) as bar:

            def advance(_k: int, seconds: float) -> None:
                advance_to(bar, seconds)
                if bar.n >= bar.total:
                    bar.close()  # before the overlay's bar

            runs = [VideoRun(video, out, out / WORK_DIR)]
            for _, result in run_videos(
                runs, runner, keep_work=keep_work, advance=advance, progress=not quiet, **run
            ):
                if isinstance(result, BaseException):
                    raise result
    except (FeelinvideoError, ValueError):
        shutil.rmtree(out / WORK_DIR, ignore_errors=True)
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return result


def _batch(videos, out_dir, runner, run: dict, keep_work: bool, quiet: bool) -> None:
    """Several videos: one run folder each under ``out_dir``, batch.json, a line a video on
    stdout, the failures again on stderr at the end, exit 1 when any failed."""
    import shutil

    from ..runs import VideoRun, run_videos
    from ..runs.index import FAILED, analyze_batch, find_videos

    found = find_videos(videos)
    parent = Path(out_dir) if out_dir is not None else Path(DEFAULT_BATCH_DIR)

    def analyze_all(jobs, advance):
        runs = [
            VideoRun(video, run_dir, parent / WORK_DIR / run_dir.name) for video, run_dir in jobs
        ]
        yield from run_videos(runs, runner, keep_work=True, advance=advance, **run)

    items = analyze_batch(found, parent, analyze_all, progress=not quiet)
    if not keep_work:
        shutil.rmtree(parent / WORK_DIR, ignore_errors=True)
    for item in items:
        where = item.out_dir if item.out_dir else item.error
        click.echo(f"{item.status}\t{item.path}\t{where}")
    failed = [item for item in items if item.status == FAILED]
    click.echo(
        f"{len(items) - len(failed)} of {len(items)} videos analysed into {parent}; "
        f"index: {parent / BATCH_JSON}",
        err=True,
    )
    for item in failed:
        click.echo(f"Error: {item.error}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


def _dry_run(video: Path, every: float, backend: str, collection) -> str:
    """What ``--dry-run`` prints: the API calls and their cost; nothing is called or written."""
    if backend == "rekognition":
        from ..backends.rekognition import dry_run_plan

        return dry_run_plan(video, every, collection).describe()
    from ..video import estimate_sampled_frames, probe

    info = probe(video)
    frames = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every)
    return (
        f"dry run: {video.name}: {frames} sampled frames; the local backend makes no "
        "API calls (US$0); nothing was written"
    )
