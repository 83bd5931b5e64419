"""``feelinvideo evaluate emotions|identity``: the models measured on labelled photos."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..evaluate.emotions import evaluate_emotions as score_emotions
from ..evaluate.emotions import find_labelled_images
from ..evaluate.identity import evaluate_identity as score_identity
from ..evaluate.text import format_emotions, format_identity
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
      feelinvideo evaluate emotions posed/ --format json
      feelinvideo evaluate identity people/ --tolerance 0.5
    """


@evaluate_group.command(name="emotions", context_settings=CONTEXT)
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--crops",
    is_flag=True,
    help="The images are face crops (e.g. FER-2013's 48x48): the whole image is the face.",
)
@click.option(
    "--format", "fmt", type=click.Choice(EVALUATE_FORMATS), default="text", show_default=True
)
@backend_option("Score with the local models, or Amazon Rekognition DetectFaces.")
@aws_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate_emotions(folder, crops, fmt, backend, region, profile, quiet):
    """Accuracy, per-class recall and confusion matrix of the emotion model on DIR.

    DIR/<emotion>/*.jpg|png: folders named with the seven emotions (angry, disgust, fear,
    happy, sad, surprise, neutral) or synonyms (surprised, happiness, anger...), the layout
    of FER-2013 and RAF-DB exports. Without --crops the largest detected face of each image
    is scored; images with no face are counted apart.
    """
    from tqdm import tqdm

    total = sum(len(v) for v in find_labelled_images(folder)[0].values())
    engine = BackendSpec(backend, DEFAULT_MIN_FACE_PX, region=region, profile=profile).build()
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
