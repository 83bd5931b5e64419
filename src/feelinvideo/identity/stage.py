"""The identity stage of a run: the tracker and naming chained for the pipeline
(``update(frame, faces) -> faces`` per sampled frame, then :meth:`IdentityStage.resolve`)."""

from __future__ import annotations

from collections.abc import Sequence

from ..faces import Faces
from ..galleries.interface import Gallery
from ..schema import DEFAULT_REFRESH_S, DEFAULT_TOLERANCE
from ..settings import AnalyzeOptions
from ..video import Frame
from .naming import Identity, Naming
from .tracker import FaceTracker


class IdentityStage:
    """Tracks faces and names them, frame by frame, for one video.

    Args:
        gallery: an open gallery for enrolled names, or None (everyone is unknown-N).
        tolerance: largest embedding distance naming a face (euclidean, 0-2; dlib's 0.6).
        thumbnails: keep small face thumbnails per track (for people.png).
        reembed_s: re-embed a face on a steady track at most once per this many seconds.
        tracker: a ready :class:`FaceTracker` (default: one with the settings above).
    """

    def __init__(
        self,
        gallery: Gallery | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        thumbnails: bool = True,
        reembed_s: float = DEFAULT_REFRESH_S,
        tracker: FaceTracker | None = None,
    ):
        self.tracker = tracker or FaceTracker(refresh_s=reembed_s, thumbnails=thumbnails)
        self.naming = Naming(gallery, tolerance)

    @property
    def columns(self) -> tuple[str, ...]:
        """``faces.csv`` columns the gallery adds (e.g. ``rek_person``), or ``()``."""
        return self.naming.columns

    def update(self, frame: Frame, faces: Faces) -> Faces:
        """Set ``tracker_id`` (and provisional ``person``) on one sampled frame's faces.

        Raises:
            BackendError: dlib or its models are missing, or the gallery's service failed.
            GalleryError: the gallery cannot be read.
        """
        return self.naming.update(frame, self.tracker.update(frame, faces))

    def update_many(self, frames: Sequence[Frame], faces: Sequence[Faces]) -> list[Faces]:
        """:meth:`update` for the consecutive sampled frames of one backend call, their faces
        needing an embedding embedded in one network call (:meth:`FaceTracker.prepare`);
        the same results as :meth:`update` frame by frame.

        Raises:
            as :meth:`update`.
        """
        self.tracker.prepare(frames, faces)
        return [self.update(frame, found) for frame, found in zip(frames, faces, strict=True)]

    def resolve(self) -> dict[int, Identity]:
        """``{tracker_id: Identity}`` for every track seen (call after the last frame)."""
        return self.naming.resolve(self.tracker.tracks)

    def forget(self, before_s: float) -> list:
        """Drop what is kept about tracks ended before ``before_s`` seconds (tracker state
        and gallery votes), for a live watch whose memory must stay flat; returns the
        :class:`~feelinvideo.identity.tracker.Track` objects dropped."""
        gone = self.tracker.forget(before_s)
        self.naming.forget([t.tracker_id for t in gone])
        return gone

    def stats(self) -> dict:
        """``tracks, cuts, faces_seen, embeddings_computed, embeddings_per_face,
        embeddings_per_track`` so far."""
        t = self.tracker
        per_face = round(t.embeddings_computed / t.faces_seen, 4) if t.faces_seen else 0.0
        created = t.tracks_created
        per_track = round(t.embeddings_computed / created, 4) if created else 0.0
        return {
            "tracks": created,
            "cuts": t.cuts.cuts if t.cuts is not None else 0,
            "faces_seen": t.faces_seen,
            "embeddings_computed": t.embeddings_computed,
            "embeddings_per_face": per_face,
            "embeddings_per_track": per_track,
            "reembed_every_s": t.refresh_s,
        }


def identity_stage(gallery: Gallery | None, options: AnalyzeOptions) -> IdentityStage | None:
    """The :class:`IdentityStage` the options ask for (None without identity)."""
    if not options.identity:
        return None
    return IdentityStage(gallery, options.tolerance, options.thumbnails, options.reembed_every_s)
