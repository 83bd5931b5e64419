"""The backend interface: find faces and score their emotions for the frames of one call.

Two implementations: :class:`feelinvideo.backends.local.LocalBackend` (MTCNN + fer's model,
all on this machine) and :class:`feelinvideo.backends.rekognition.backend.RekognitionBackend`
(Amazon Rekognition ``DetectFaces``). The pipeline only talks to this interface, so
sampling, identity, outputs and reports are the same whatever the backend. Naming faces
is not a backend's job: see :class:`feelinvideo.galleries.interface.Gallery`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..faces import Faces


class Backend(Protocol):
    """Finds faces and scores their emotions.

    Attributes:
        name: short name written to ``summary.json`` (``"local"``, ``"rekognition"``).
        models: the models it runs, written to ``summary.json``'s ``models``
            (e.g. ``"yunet + fer mini-Xception"``).
        frames_per_call: how many frames the pipeline should hand over per call (>= 1).
        columns: names of the :attr:`Faces.data` columns the backend always adds, written
            to ``faces.csv`` after the standard columns (also when no face is found).
    """

    name: str
    models: str
    frames_per_call: int
    columns: tuple[str, ...]

    def prepare(self) -> None:
        """Check (or make, for a backend that needs files made per machine) the model files
        this backend needs, before worker processes start (so that a damaged install fails
        once, and nothing is made by every worker at once); cheap (files checked, no model
        loaded). Called once, in the process that starts the workers, on a backend built
        like theirs.

        Raises nothing: a file that is unusable is left to the workers, whose first call
        fails or falls back in the usual way (and says so).
        """
        ...

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        """Return one :class:`Faces` per RGB uint8 image (H, W, 3), boxes in its pixels,
        ``xyxy``, ``confidence`` and ``scores`` set.

        Raises:
            BackendError: the model or service failed.
        """
        ...
