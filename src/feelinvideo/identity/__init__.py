"""Who is who: face tracks (:mod:`.tracker`), naming from a gallery and distinct unknown
people (:mod:`.naming`), emotion smoothing per track (:mod:`.smoothing`); galleries live in
:mod:`feelinvideo.galleries`.

:class:`IdentityStage` chains the tracker and naming for the pipeline:
``update(frame, faces) -> faces`` per sampled frame, then :meth:`IdentityStage.resolve`.
"""

from __future__ import annotations

from .naming import Identity, Naming
from .stage import IdentityStage, identity_stage
from .tracker import FaceTracker

__all__ = ["FaceTracker", "Identity", "IdentityStage", "Naming", "identity_stage"]
