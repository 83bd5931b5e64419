"""``python -m feelinvideo`` and the ``feelinvideo`` command run the CLI."""

from .interrupts import hold_signals


def run() -> None:
    """The ``feelinvideo`` command: Ctrl-C and SIGTERM are held from the start, while the
    CLI's modules load, until the command begins (:func:`feelinvideo.interrupts.
    hold_signals`), so that one in the first second ends the run as one later does."""
    hold_signals()
    from .cli import main

    main()


if __name__ == "__main__":  # pragma: no cover
    run()
