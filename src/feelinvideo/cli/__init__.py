"""The ``feelinvideo`` command line (click): options -> backend and gallery -> library API
-> files and echo.

Library errors (:class:`feelinvideo.errors.FeelinvideoError`) become one-line messages
on stderr and exit status 1 here, and only here; click's usage errors exit 2. stdout
carries results; progress bars and warnings go to stderr.
"""

from __future__ import annotations

import click

from .. import __version__
from ..errors import FeelinvideoError
from .options import CONTEXT


class Group(click.Group):
    """Turns FeelinvideoError into ``Error: <one line>`` on stderr and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FeelinvideoError as exc:
            message = " ".join(str(exc).split())
            raise click.ClickException(message) from None


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


from .analyze import analyze  # noqa: E402  (commands register after the group exists)
from .evaluate import evaluate_group  # noqa: E402
from .people import enroll, gallery_group  # noqa: E402
from .report import report  # noqa: E402

for command in (analyze, enroll, gallery_group, report, evaluate_group):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
