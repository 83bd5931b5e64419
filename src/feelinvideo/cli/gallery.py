"""``feelinvideo enroll`` and ``feelinvideo gallery list|remove``: one code path for every
gallery (the local file or a Rekognition collection)."""

from __future__ import annotations

from pathlib import Path

import click

from ..galleries.enroll import enroll_folder, find_photos
from .flags import CONTEXT, chosen_gallery, gallery_options


@click.command(context_settings=CONTEXT)
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

    find_photos(folder)  # a bad folder fails before the gallery is created
    with chosen_gallery(backend, gallery, collection, region, profile, create=True).open() as store:
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


@click.group(name="gallery", context_settings=CONTEXT)
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
    with chosen_gallery(backend, gallery, collection, region, profile).open() as store:
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
    with chosen_gallery(backend, gallery, collection, region, profile).open() as store:
        count = store.remove(name)
        location = store.location
    click.echo(f"removed {name} ({count} photo(s)) from {location}", err=True)
