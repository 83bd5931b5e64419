"""Progress bars: tqdm on stderr, counting seconds of video done (finished work, not
decoding); and the library's notes on stderr without breaking a bar."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager


def progress_bar(total_s: float, desc: str, enabled: bool):
    """A tqdm bar on stderr counting seconds of video done out of ``total_s`` (>= 0), with
    the elapsed time and an ETA; a disabled bar when ``enabled`` is False (``--quiet``)."""
    from tqdm import tqdm

    return tqdm(
        total=round(total_s, 2),
        desc=desc,
        unit="s",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s video "
        "[{elapsed}<{remaining}]",
    )


def advance_to(bar, seconds: float) -> None:
    """Move ``bar`` forward to ``seconds`` of video (never back, never past its total)."""
    bar.update(max(0.0, min(seconds, bar.total) - bar.n))


class _TqdmHandler(logging.Handler):
    """Writes log records with ``tqdm.write`` so that they never break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(f"feelinvideo: {self.format(record)}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@contextmanager
def library_notes():
    """Show the library's notes (logger ``feelinvideo`` at INFO: a model prepared once, the
    first run after installing) as ``feelinvideo: ...`` lines on stderr for the duration;
    the CLI's ``--quiet`` raises the logger's level to WARNING."""
    logger = logging.getLogger("feelinvideo")
    handler, level, propagate = _TqdmHandler(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not again through a root handler (absl adds one with TF)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
