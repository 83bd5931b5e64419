"""The ``feelinvideo`` command line (click), a thin layer: flags -> specs and settings -> one
library call -> echo.

Library errors (:class:`feelinvideo.errors.FeelinvideoError`) become one-line messages
on stderr and exit status 1 here, and only here; click's usage errors exit 2. stdout
carries results; progress bars, warnings and the library's notes (``feelinvideo: ...``, a
model prepared once) go to stderr.
"""

from __future__ import annotations

import click

from .. import __version__
from ..errors import FeelinvideoError, OptionError
from ..interrupts import Terminated, exceptions_on_signals
from ..progress import library_notes
from .flags import CONTEXT


def _what_was_kept(exc: BaseException) -> str:
    """What an interrupted run kept and how to resume (the library sets
    ``feelinvideo_kept`` on the interrupt when finished work stays for a rerun)."""
    return getattr(exc, "feelinvideo_kept", None) or "nothing of this run was kept."


class Group(click.Group):
    """Turns FeelinvideoError into ``Error: <one line>`` on stderr and exit 1; Ctrl-C into
    exit 130 and SIGTERM into exit 143 (128 + the signal), each after the library removed
    what the interrupted run had staged (earlier outputs stay as they were)."""

    def invoke(self, ctx: click.Context):
        try:
            with library_notes(), exceptions_on_signals(ignore_after=True):
                return super().invoke(ctx)
        except OptionError as exc:
            raise click.UsageError(" ".join(str(exc).split())) from None
        except FeelinvideoError as exc:
            message = " ".join(str(exc).split())
            raise click.ClickException(message) from None
        except KeyboardInterrupt as exc:
            click.echo(f"Interrupted: {_what_was_kept(exc)}", err=True)
            ctx.exit(130)
        except Terminated as exc:
            click.echo(f"Terminated: {_what_was_kept(exc)}", err=True)
            ctx.exit(143)


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
from .gallery import enroll, gallery_group  # noqa: E402
from .report import report  # noqa: E402
from .watch import watch  # noqa: E402

for command in (analyze, enroll, gallery_group, report, evaluate_group, watch):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
