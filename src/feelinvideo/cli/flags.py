"""Flags shared by several ``feelinvideo`` commands (click decorators), and the gallery spec the
``enroll`` and ``gallery`` flags name."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..galleries.interface import GALLERY_ENV, default_gallery_path
from ..schema import (
    BACKENDS,
    DEFAULT_MIN_EMOTION_FACE_PX,
    DEFAULT_MIN_FACE_PX,
    DEFAULT_NEUTRAL_MARGIN,
    DEFAULT_REFRESH_S,
    DEFAULT_TOLERANCE,
    DETECTORS,
)
from ..specs import GallerySpec

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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


def backend_option(help_text: str):
    """``--backend local|rekognition`` (default local)."""
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default="local",
        show_default=True,
        help=help_text,
    )


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
    command = backend_option(
        "The local gallery file, or an Amazon Rekognition face collection (needs "
        "--collection, pip install 'feelinvideo[aws]' and AWS credentials)."
    )(command)
    return click.option("--gallery", type=click.Path(path_type=Path), help=GALLERY_HELP)(command)


def chosen_gallery(backend, gallery, collection, region, profile, create=False):
    """The :class:`~feelinvideo.specs.GallerySpec` that ``enroll`` and ``gallery`` options
    name: the local file, or with ``--backend rekognition`` a collection (usage errors for
    options that do not fit together)."""

    aws = {"--collection": collection, "--region": region, "--profile": profile}
    if backend != "rekognition":
        given = ", ".join(k for k, v in aws.items() if v is not None)
        if given:
            raise click.UsageError(f"{given} only apply to --backend rekognition")
        return GallerySpec(path=gallery, create=create).check()
    if not collection:
        raise click.UsageError("--backend rekognition needs --collection NAME")
    if gallery is not None:
        raise click.UsageError("--gallery does not apply to --backend rekognition")
    spec = GallerySpec(collection=collection, region=region, profile=profile, create=create)
    return spec.check()


def implicit_gallery() -> Path | None:
    """$FEELINVIDEO_GALLERY when set, else the default gallery file when it exists."""
    import os

    path = default_gallery_path()
    if os.environ.get(GALLERY_ENV) or path.exists():
        return path
    return None


def neutral_margin_option(command):
    """``--neutral-margin``: the interest verdict's neutral margin per face (analyze, report)."""

    return click.option(
        "--neutral-margin",
        type=Finite(0, 1),
        default=DEFAULT_NEUTRAL_MARGIN,
        show_default=True,
        help="Verdict 'neutral' when |positive - negative| is at most this much per face "
        "(scores in 0-1; positive = happy + surprise, negative = angry + disgust + fear + "
        "sad) or when neutral is the dominant emotion.",
    )(command)


def min_emotion_face_option(command):
    """``--min-emotion-face PX``: the smallest face whose emotion is counted (analyze, report)."""

    return click.option(
        "--min-emotion-face",
        "min_emotion_face",
        type=Finite(min=0),
        default=DEFAULT_MIN_EMOTION_FACE_PX,
        show_default=True,
        help="Count the emotions of faces at least this many pixels on their box's longer "
        "side (faces.csv face_px); smaller faces are kept and flagged (emotion_reliable "
        "false), left out of verdicts, windows and people's emotions; 0 counts every face.",
    )(command)


def detector_options(command):
    """``--min-face PX`` and ``--detector mtcnn|yunet``: the local backend's face detector."""

    command = click.option(
        "--detector",
        type=click.Choice(DETECTORS),
        default="mtcnn",
        show_default=True,
        help="Face detector of the local backend: MTCNN, or YuNet (faster, finds more turned "
        "and blurred faces; pip install 'feelinvideo[yunet]', Linux x86_64).",
    )(command)
    return click.option(
        "--min-face",
        type=Finite(min=1, min_open=False),
        default=DEFAULT_MIN_FACE_PX,
        show_default=True,
        help="Smallest face side to find, in video pixels. Frames are scaled by 16/PX (YuNet) or "
        "20/PX (MTCNN) before detection, so larger is faster.",
    )(command)


def naming_options(command):
    """``--gallery PATH``, ``--no-gallery`` and ``--tolerance``: where names come from."""

    command = click.option(
        "--tolerance",
        type=Finite(0, 2),
        default=DEFAULT_TOLERANCE,
        show_default=True,
        help="Largest distance between a face's dlib embedding and an enrolled one for the "
        "face to take that name (euclidean, 0-2). dlib's 0.6 default: lower is stricter "
        "(fewer wrong names, more unknowns), higher names more faces but may confuse "
        "look-alikes.",
    )(command)
    command = click.option(
        "--no-gallery", is_flag=True, help="Use no gallery: everyone is unknown-N."
    )(command)
    return click.option(
        "--gallery",
        type=click.Path(path_type=Path),
        help="Face gallery (made by `feelinvideo enroll`) whose enrolled names faces can take. "
        "Default: $FEELINVIDEO_GALLERY, else the default gallery if it exists. Without one, "
        "every face is an unknown person (unknown-1, unknown-2, ... by first appearance).",
    )(command)


def reembed_option(command):
    """``--reembed-every SECONDS``: how often a steady track is embedded again."""

    return click.option(
        "--reembed-every",
        type=Finite(min=0, min_open=True),
        default=DEFAULT_REFRESH_S,
        show_default=True,
        help="Re-embed a face on a steady track at most once per this many seconds (tracks "
        "are also embedded when they start, after a cut and when their link is weak). Lower "
        "is safer and slower.",
    )(command)
