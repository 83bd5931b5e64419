"""dlib's descriptor network in a child process (:mod:`feelinvideo.models.child_process`),
so that it runs beside the pipeline's threads instead of stopping them: dlib's Python
binding holds the GIL for the whole network call (about 60-100 ms a face here).
``FEELINVIDEO_DLIB_PROCESS=0`` keeps it in this process.
"""

from __future__ import annotations

import numpy as np

from .child_process import ChildProcess
from .child_process import serve as _serve
from .dlib import _model, chip_encodings


def serve() -> None:
    """The child's loop: uint8 (N, 150, 150, 3) chips in, float64 (N, 128) descriptors out."""
    _serve(chip_encodings, load=lambda: _model("encoder"))


class EncoderProcess(ChildProcess):
    """:func:`feelinvideo.models.dlib.chip_encodings` in one child process."""

    def __init__(self) -> None:
        super().__init__(
            "from feelinvideo.models.dlib_process import serve; serve()",
            "FEELINVIDEO_DLIB_PROCESS",
        )

    def encode(self, chips: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """float64 (N, 128) descriptors of uint8 (N, 150, 150, 3) aligned chips, computed in
        the child (in this process if the child is unavailable).

        Raises:
            BackendError: dlib or its model files are missing.
        """
        chips = np.ascontiguousarray(np.asarray(chips, np.uint8).reshape(-1, 150, 150, 3))
        if len(chips):
            got = self.call(chips)
            if got is not None:
                return got
        return chip_encodings(chips)  # raises BackendError when dlib itself is missing


#: the encoder :func:`feelinvideo.identity.tracker.dlib_encoder` uses
encoder_process = EncoderProcess()
