"""Progress bars: tqdm on stderr, counting seconds of video done (finished work, not decoding)."""

from __future__ import annotations

import sys


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
