"""``feelinvideo evaluate emotions|identity``: the models measured on labelled photos."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..evaluate.emotions import evaluate_emotions as score_emotions
from ..evaluate.emotions import find_labelled_images
from ..evaluate.identity import evaluate_identity as score_identity
from ..evaluate.placed import DEFAULT_SIZES, evaluate_pipeline, parse_sizes
from ..evaluate.text import format_emotions, format_identity, format_pipeline
from ..galleries.enroll import find_photos
from ..schema import DEFAULT_MIN_FACE_PX, DEFAULT_TOLERANCE
from ..specs import BackendSpec
from .flags import CONTEXT, Finite, aws_options, backend_option

EVALUATE_FORMATS = ("text", "json", "csv")


@click.group(name="evaluate", context_settings=CONTEXT)
def evaluate_group() -> None:
    """Measure the models on your own labelled photos (accuracy, errors, distances).

    \b
    Examples:
      feelinvideo evaluate emotions fer2013/test --crops
      feelinvideo evaluate emotions fer2013/test --pipeline --background empty_room.mp4
      feelinvideo evaluate emotions posed/ --format json
      feelinvideo evaluate identity people/ --tolerance 0.5
    """


@evaluate_group.command(name="emotions", context_settings=CONTEXT)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--crops",
    is_flag=True,
    help="The images are face crops (e.g. FER-2013's 48x48): each is scored whole, as the "
    "model was trained (no detection, no widening).",
)
@click.option(
    "--pipeline",
    is_flag=True,
    help="Accuracy through detection, crop and scores by face size: each image (a face "
    "crop) is placed at each of --sizes into frames of --background, found by the "
    "detector, cropped by the production rule and scored.",
)
@click.option(
    "--sizes",
    default=",".join(map(str, DEFAULT_SIZES)),
    show_default=True,
    help="With --pipeline: the face sizes to place, pixels, comma-separated.",
)
@click.option(
    "--background",
    "backgrounds",
    multiple=True,
    type=click.Path(path_type=Path),
    help="With --pipeline: a video or photo to place the faces in (repeatable; a real scene "
    "with no faces, e.g. an empty classroom; faces found in it are kept clear of).",
)
@click.option(
    "--min-face",
    type=Finite(min=1),
    default=None,
    help="Smallest face side to find, in pixels. [default: 40; with --pipeline the smaller "
    "of 40 and 0.6 of the smallest size, so every size can be found]",
)
@click.option(
    "--format", "fmt", type=click.Choice(EVALUATE_FORMATS), default="text", show_default=True
)
@backend_option("Score with the local models, or Amazon Rekognition DetectFaces.")
@aws_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate_emotions(
    folder, crops, pipeline, sizes, backgrounds, min_face, fmt, backend, region, profile, quiet
):
    """Accuracy, per-class recall and confusion matrix of the emotion model on DIR.

    DIR/<emotion>/*.jpg|png: folders named with the seven emotions (angry, disgust, fear,
    happy, sad, surprise, neutral) or synonyms (surprised, happiness, anger...), the layout
    of FER-2013 and RAF-DB exports. Without --crops the largest detected face of each image
    is scored; images with no face are counted apart. With the local backend each result
    also gives a reference scored on the same faces (the crop alone, or the detector's box
    as it is), so what the preprocessing adds is measured in the same run.

    With --pipeline: accuracy and detection rate at each face size (save --format json as
    evaluation.json beside your runs: the report shows the table and the face size from
    which emotions are counted).
    """
    from tqdm import tqdm

    if crops and pipeline:
        raise click.UsageError("--crops and --pipeline exclude each other")
    if not pipeline and backgrounds:
        raise click.UsageError("--background applies with --pipeline only")
    if pipeline and not backgrounds:
        raise click.UsageError("--pipeline needs a --background video or photo to place faces in")
    sizes = parse_sizes(sizes) if pipeline else ()
    if min_face is None:
        min_face = min(DEFAULT_MIN_FACE_PX, max(1, round(0.6 * min(sizes)))) if sizes else None
    spec = BackendSpec(
        backend, min_face or DEFAULT_MIN_FACE_PX, region=region, profile=profile
    ).check()
    engine = spec.build()
    total = sum(len(v) for v in find_labelled_images(folder)[0].values())
    if pipeline:
        with tqdm(total=None, unit="frame", file=sys.stderr, disable=quiet) as bar:
            advance = lambda n: bar.update(n - bar.n)  # noqa: E731
            result = evaluate_pipeline(folder, backgrounds, sizes, backend=engine, progress=advance)
        for line in result.skipped:
            click.echo(f"Warning: skipped {line}", err=True)
        click.echo(format_pipeline(result, fmt))
        return
    with tqdm(total=total, unit="image", file=sys.stderr, disable=quiet) as bar:
        advance = lambda n: bar.update(n - bar.n)  # noqa: E731
        result = score_emotions(folder, crops=crops, backend=engine, progress=advance)
    for line in result.skipped:
        click.echo(f"Warning: skipped {line}", err=True)
    click.echo(format_emotions(result, fmt))


@evaluate_group.command(name="identity", context_settings=CONTEXT)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=Finite(0, 2),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest embedding distance that names a face (local gallery).",
)
@click.option(
    "--format", "fmt", type=click.Choice(EVALUATE_FORMATS), default="text", show_default=True
)
@backend_option(
    "A temporary local gallery, or a temporary Amazon Rekognition collection (created, then "
    "deleted)."
)
@aws_options
@click.option(
    "--sizes",
    metavar="PX,PX,...",
    default="",
    help="Also show every probe with its face this many pixels wide in a 1280x720 video "
    "frame (e.g. 32,40,54,80) and report naming per size.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate_identity(folder, tolerance, fmt, backend, region, profile, sizes, quiet):
    """Rank-1 accuracy, wrong names and unknowns of naming on DIR/<person>/*.jpg.

    The first photo (by file name) of each person is enrolled into a temporary gallery;
    every other photo is a probe, named as `analyze` names faces. Also prints the distances
    of right and wrong matches, and (local gallery) of each probe to its own person and to
    the nearest other person, to choose --tolerance. With --sizes, each probe is also
    shown small (scaled, centred in a grey 720p frame, H.264-encoded) and named again
    against the full-size gallery: rank-1, wrong names and unknowns per face size.
    """
    from tqdm import tqdm

    try:
        widths = [int(v) for v in sizes.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(
            f"expected pixel widths like 32,54,80, got {sizes!r}", param_hint="--sizes"
        ) from None
    total = sum(max(0, len(v) - 1) for v in find_photos(folder).values())
    prefix = "feelinvideo-evaluate" if backend == "rekognition" else None
    if backend != "rekognition" and (region or profile):
        raise click.UsageError("--region, --profile only apply to --backend rekognition")
    with tqdm(total=total, unit="probe", file=sys.stderr, disable=quiet) as bar:
        result = score_identity(
            folder,
            tolerance,
            prefix,
            region,
            profile,
            progress=lambda n: bar.update(n - bar.n),
            sizes=widths,
        )
    for line in result.skipped:
        click.echo(f"Warning: skipped {line}", err=True)
    click.echo(format_identity(result, fmt))
