"""The ``feelinvideo`` command line (click): options -> backend and gallery -> library API
-> files and echo.

Library errors (:class:`feelinvideo.errors.FeelinvideoError`) become one-line messages
on stderr and exit status 1 here, and only here; click's usage errors exit 2. stdout
carries results; progress bars and warnings go to stderr.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from . import __version__
from .errors import FeelinvideoError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Turns FeelinvideoError into ``Error: <one line>`` on stderr and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FeelinvideoError as exc:
            message = " ".join(str(exc).split())
            raise click.ClickException(message) from None


class Finite(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` and ``inf`` (a usage error, exit 2)."""

    name = "float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def aws_options(command):
    """``--region`` and ``--profile`` (AWS; rekognition only)."""
    command = click.option(
        "--profile", help="AWS named profile (rekognition). Default: AWS_PROFILE/default."
    )(command)
    return click.option(
        "--region", help="AWS region (rekognition). Default: AWS_DEFAULT_REGION/profile."
    )(command)


GALLERY_HELP = (
    "Gallery file. Default: $FEELINVIDEO_GALLERY, else gallery.sqlite in the user data "
    "folder (platformdirs)."
)


def gallery_options(command):
    """Which gallery: ``--gallery PATH`` (local), or ``--backend rekognition --collection NAME``
    with ``--region`` / ``--profile``."""
    command = aws_options(command)
    command = click.option(
        "--collection", help="Rekognition face collection (with --backend rekognition)."
    )(command)
    command = click.option(
        "--backend",
        type=click.Choice(["local", "rekognition"]),
        default="local",
        show_default=True,
        help="The local gallery file, or an Amazon Rekognition face collection (needs "
        "--collection, pip install 'feelinvideo[aws]' and AWS credentials).",
    )(command)
    return click.option("--gallery", type=click.Path(path_type=Path), help=GALLERY_HELP)(command)


def open_chosen_gallery(backend, gallery, collection, region, profile, create=False):
    """The gallery the options name, after checking they fit together (usage errors)."""
    from .identity.gallery import open_gallery

    aws = {"--collection": collection, "--region": region, "--profile": profile}
    if backend != "rekognition":
        given = ", ".join(k for k, v in aws.items() if v is not None)
        if given:
            raise click.UsageError(f"{given} only apply to --backend rekognition")
        return open_gallery(gallery, create=create)
    if not collection:
        raise click.UsageError("--backend rekognition needs --collection NAME")
    if gallery is not None:
        raise click.UsageError("--gallery does not apply to --backend rekognition")
    return open_gallery(collection=collection, create=create, region=region, profile=profile)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="feelinvideo")
def main() -> None:
    """Who is in a video and how they feel, frame by frame and overall, offline.

    \b
    Examples:
      feelinvideo analyze lecture.mp4
      feelinvideo analyze lecture.mp4 --every 0.5 --out lecture_out
      feelinvideo report lecture_out/ other_lecture_feelinvideo/ --out term_report
    """


@main.command(context_settings=CONTEXT)
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Output folder. Default: <video stem>_feelinvideo/ beside the video.",
)
@click.option(
    "--every",
    type=Finite(min=0),
    default=1.0,
    show_default=True,
    help="Sampling interval in seconds of video time; 0 analyses every frame.",
)
@click.option(
    "--min-face",
    type=Finite(min=1, min_open=False),
    default=40,
    show_default=True,
    help="Smallest face side to find, in video pixels. Frames are scaled by 20/PX before "
    "detection, so larger is faster.",
)
@click.option(
    "--window",
    type=Finite(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Length of the summary's time windows in seconds.",
)
@click.option("--no-video", is_flag=True, help="Do not write overlay.mp4.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option(
    "--backend",
    type=click.Choice(["local", "rekognition"]),
    default="local",
    show_default=True,
    help="Where faces and emotions come from: the local models, or Amazon Rekognition "
    "(needs pip install 'feelinvideo[aws]' and AWS credentials; sends frames to AWS).",
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
    help="Smallest SearchFacesByImage similarity (0-100) that names a face. [default: 70]",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print how many API calls the run would make and their cost; call and write nothing.",
)
@click.option(
    "--gallery",
    type=click.Path(path_type=Path),
    help="Face gallery (made by `feelinvideo enroll`) whose enrolled names faces can take. "
    "Default: $FEELINVIDEO_GALLERY, else the default gallery if it exists. Without one, "
    "every face is an unknown person (unknown-1, unknown-2, ... by first appearance).",
)
@click.option("--no-gallery", is_flag=True, help="Use no gallery: everyone is unknown-N.")
@click.option(
    "--tolerance",
    type=Finite(0, 2),
    default=0.6,
    show_default=True,
    help="Largest distance between a face's dlib embedding and an enrolled one for the face "
    "to take that name (euclidean, 0-2). dlib's 0.6 default: lower is stricter (fewer wrong "
    "names, more unknowns), higher names more faces but may confuse look-alikes.",
)
@click.option(
    "--min-frames",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Leave people seen in fewer sampled frames out of people.json and people.png "
    "(they are counted in the summary).",
)
@click.option(
    "--no-thumbnails",
    is_flag=True,
    help="No face thumbnails in people.png (then no face crops are written anywhere).",
)
@click.option(
    "--no-identity",
    is_flag=True,
    help="Skip who-is-who (no person columns, people.json or people.png); a little faster.",
)
def analyze(
    video,
    out_dir,
    every,
    min_face,
    window,
    no_video,
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
    no_thumbnails,
    no_identity,
):
    """Find faces in VIDEO, score their emotions, write faces.csv, summary.json, overlay.mp4.

    \b
    Examples:
      feelinvideo analyze lecture.mp4
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
    """
    from .pipeline import AnalyzeOptions
    from .pipeline import analyze as run_analysis

    aws_only = {
        "--region": region,
        "--profile": profile,
        "--collection": collection,
        "--face-match-threshold": face_match_threshold,
    }
    if backend != "rekognition" and any(v is not None for v in aws_only.values()):
        given = ", ".join(k for k, v in aws_only.items() if v is not None)
        raise click.UsageError(f"{given} only apply to --backend rekognition")
    if dry_run:
        click.echo(_dry_run(video, every, backend, collection))
        return
    if gallery is not None and no_gallery:
        raise click.UsageError("--gallery and --no-gallery exclude each other")
    if collection is not None and (gallery is not None or no_identity):
        given = "--gallery" if gallery is not None else "--no-identity"
        raise click.UsageError(f"--collection and {given} exclude each other")
    if gallery is None and collection is None and not no_gallery and not no_identity:
        gallery = _implicit_gallery()
    options = AnalyzeOptions(
        every_s=every,
        window_s=window,
        write_video=not no_video,
        identity=not no_identity,
        tolerance=tolerance,
        min_frames=min_frames,
        thumbnails=not no_thumbnails,
    )
    engine = _backend(backend, min_face, region, profile)
    names = None
    if collection is not None:
        from .identity.gallery import open_gallery

        names = open_gallery(
            collection=collection,
            region=region,
            profile=profile,
            face_match_threshold=face_match_threshold,
        )
    elif gallery is not None and not no_identity:
        from .identity.gallery import open_gallery

        names = open_gallery(gallery)
    try:
        result = run_analysis(
            video, out_dir, backend=engine, gallery=names, options=options, progress=not quiet
        )
    finally:
        if names is not None:
            names.close()
    click.echo(result.describe())


def _backend(backend: str, min_face: float, region, profile):
    """The face/emotion backend the options name."""
    if backend == "rekognition":
        from .backends.rekognition import RekognitionBackend

        return RekognitionBackend(region=region, profile=profile)
    from .backends.local import LocalBackend

    return LocalBackend(min_face_px=min_face)


def _dry_run(video: Path, every: float, backend: str, collection) -> str:
    """What ``--dry-run`` prints: the API calls and their cost; nothing is called or written."""
    if backend == "rekognition":
        from .backends.rekognition import dry_run_plan

        return dry_run_plan(video, every, collection).describe()
    from .video import estimate_sampled_frames, probe

    info = probe(video)
    frames = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every)
    return (
        f"dry run: {video.name}: {frames} sampled frames; the local backend makes no "
        "API calls (US$0); nothing was written"
    )


def _implicit_gallery() -> Path | None:
    """$FEELINVIDEO_GALLERY when set, else the default gallery file when it exists."""
    import os

    from .identity.gallery import GALLERY_ENV, default_gallery_path

    path = default_gallery_path()
    if os.environ.get(GALLERY_ENV) or path.exists():
        return path
    return None


@main.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("feelinvideo_report"),
    show_default=True,
    help="Output folder for class_summary.csv, windows.csv, the PNG plots and report.html.",
)
@click.option(
    "--window",
    type=Finite(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Length of the time windows in seconds.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="Also append the runs to this SQLite database (tables runs, faces); a run already "
    "in it is not added again.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv", "markdown"]),
    default="text",
    show_default=True,
    help="Format of the class summary printed on stdout.",
)
def report(inputs, out_dir, window, db_path, fmt):
    """Class summary, time windows, plots and an offline HTML page over one or many runs.

    INPUTS are faces.csv files written by `analyze`, run folders holding one, or folders of
    run folders (a term of lectures). Each run's summary.json beside its CSV gives the video
    facts. People come from the CSV's person column; without one, each run's faces count
    as one unknown person. Unknown people are per video (<video>:unknown-N).

    \b
    Examples:
      feelinvideo report lecture_feelinvideo/
      feelinvideo report term/ --out term_report --window 300
      feelinvideo report week1/faces.csv week2/faces.csv --db term.sqlite
      feelinvideo report term/ --format markdown > summary.md
    """
    from .report import format_summary, make_report

    result = make_report(inputs, out_dir, window_s=window, db_path=db_path)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(format_summary(result, fmt))
    if fmt != "text":
        click.echo("wrote: " + ", ".join(str(p) for p in result.files.values()), err=True)


@main.command(context_settings=CONTEXT)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@gallery_options
@click.option(
    "--replace",
    is_flag=True,
    help="Replace each person's earlier photos instead of adding to them.",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-person lines on stdout.")
def enroll(folder, gallery, backend, collection, region, profile, replace, quiet):
    """Enrol the people photographed in DIR into the face gallery.

    DIR/<name>.jpg (one photo a person: the file name is the person) and
    DIR/<name>/*.jpg (several photos a person) both work, mixed; .jpeg and .png too.
    Each photo must show a face: a photo with none is skipped with a warning, a photo
    with several uses the largest face, with a warning. The local gallery keeps names and
    dlib 128-d face embeddings only, never the photos or face images; --backend
    rekognition indexes the faces into a Rekognition collection instead. Enrolling again
    adds photos; --replace replaces the person. Exits 1 when nobody could be enrolled.

    \b
    Examples:
      feelinvideo enroll students/
      feelinvideo enroll students/ --gallery class.sqlite
      feelinvideo enroll new_photos/ --gallery class.sqlite --replace
      feelinvideo enroll students/ --backend rekognition --collection class
    """
    from .identity.enroll import enroll_folder, find_photos

    find_photos(folder)  # a bad folder fails before the gallery is created
    with open_chosen_gallery(backend, gallery, collection, region, profile, create=True) as store:
        report = enroll_folder(folder, store, replace=replace)
        location = store.location
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not report.enrolled:
        raise click.ClickException(f"{folder}: nobody enrolled (no photo held a usable face)")
    if not quiet:
        for name, used in report.enrolled.items():
            click.echo(f"{name}\t{used} photo(s) enrolled\t{report.totals[name]} in gallery")
    skipped = report.skipped
    note = f"; {len(skipped)} not enrolled: {', '.join(skipped)}" if skipped else ""
    click.echo(f"enrolled {len(report.enrolled)} people into {location}{note}", err=True)


@main.group(name="gallery", context_settings=CONTEXT)
def gallery_group() -> None:
    """List or edit a face gallery: the local file (names and embeddings, no images) or a
    Rekognition collection.

    \b
    Examples:
      feelinvideo gallery list
      feelinvideo gallery list --gallery class.sqlite
      feelinvideo gallery remove obama --gallery class.sqlite
      feelinvideo gallery remove obama --backend rekognition --collection class
    """


@gallery_group.command(name="list", context_settings=CONTEXT)
@gallery_options
def gallery_list(gallery, backend, collection, region, profile):
    """Print each enrolled person and their photo count (tab-separated) on stdout.

    \b
    Examples:
      feelinvideo gallery list
      feelinvideo gallery list --gallery class.sqlite
      feelinvideo gallery list --backend rekognition --collection class
    """
    with open_chosen_gallery(backend, gallery, collection, region, profile) as store:
        people = store.people()
        location = store.location
    click.echo("name\tphotos")
    for name, count in people.items():
        click.echo(f"{name}\t{count}")
    if not people:
        click.echo(f"{location}: the gallery is empty", err=True)


@gallery_group.command(name="remove", context_settings=CONTEXT)
@click.argument("name")
@gallery_options
def gallery_remove(name, gallery, backend, collection, region, profile):
    """Remove NAME and all their embeddings (or collection faces) from the gallery.

    \b
    Examples:
      feelinvideo gallery remove obama
      feelinvideo gallery remove obama --gallery class.sqlite
      feelinvideo gallery remove obama --backend rekognition --collection class
    """
    with open_chosen_gallery(backend, gallery, collection, region, profile) as store:
        count = store.remove(name)
        location = store.location
    click.echo(f"removed {name} ({count} photo(s)) from {location}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
