"""Faces and emotions from Amazon Rekognition ``DetectFaces``: the ``rekognition`` backend.

Each sampled frame is JPEG-encoded (shrunk if needed to stay under the API's 5 MB limit,
:func:`~.adapter.encode_jpeg`) and sent to ``DetectFaces`` with ``Attributes=["ALL"]``; the
response becomes :class:`~feelinvideo.faces.Faces` through
:func:`~.adapter.faces_from_detect_faces`.
Naming faces is not this backend's job: a
:class:`~feelinvideo.galleries.collection.RekognitionCollection` does it as a
gallery. Source: Amazon Rekognition API reference, ``DetectFaces``,
https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectFaces.html
"""

from __future__ import annotations

import numpy as np

from ...faces import Faces
from .adapter import REK_COLUMNS, encode_jpeg, faces_from_detect_faces
from .client import DEFAULT_WORKERS, RekognitionService, map_ordered


class RekognitionBackend:
    """Faces and emotions from Rekognition ``DetectFaces``.

    Implements :class:`feelinvideo.backends.protocol.Backend`. :meth:`analyze` sends the frames
    of a batch concurrently (``workers`` threads, order kept). Every :class:`Faces` carries
    :attr:`columns` in :attr:`Faces.data`: the nine ``rek_*`` raw confidences (0-100).

    Args:
        region, profile, endpoint_url: AWS region, named profile and service URL (default:
            the standard AWS configuration; see :class:`RekognitionService`).
        workers: concurrent requests (>= 1).
        frames_per_call: frames per :meth:`analyze` call the pipeline should hand over (default
            ``2 * workers``).
        max_attempts: tries in all per request for throttling and transient errors
            (default: :class:`RekognitionService`'s).
        service: a ready :class:`RekognitionService` to share; else one is made from the
            arguments above.

    Raises:
        MissingDependencyError: boto3 is not installed.
        RekognitionError: no credentials or region, unknown profile (one line).
    """

    name = "rekognition"
    models = "Amazon Rekognition DetectFaces"
    columns: tuple[str, ...] = REK_COLUMNS

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        workers: int = DEFAULT_WORKERS,
        frames_per_call: int | None = None,
        max_attempts: int | None = None,
        service: RekognitionService | None = None,
    ):
        self.workers = max(1, int(workers))
        self.frames_per_call = max(1, int(frames_per_call or 2 * self.workers))
        self.service = service or RekognitionService(
            region, profile, endpoint_url, max_attempts=max_attempts, max_connections=self.workers
        )

    def detect(self, image: np.ndarray) -> Faces:
        """``DetectFaces`` on one RGB uint8 frame (H, W, 3) -> :class:`Faces` in its pixels.

        Raises:
            RekognitionError: the request failed (one line).
            ImageError: the frame cannot be JPEG-encoded under 5 MB.
        """
        response = self.service.call(
            "DetectFaces", Image={"Bytes": encode_jpeg(image)}, Attributes=["ALL"]
        )
        return faces_from_detect_faces(response, image.shape[1], image.shape[0])

    def prepare(self) -> None:
        """Nothing to prepare: the models run in the Rekognition service, so there is no
        model copy on this machine for workers to make at once. (Each process makes its own
        boto3 client; a client is not shared across processes.)"""

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        """One :class:`Faces` per RGB uint8 image (H, W, 3), boxes in its pixels, in order.

        Raises:
            RekognitionError: a request failed (one line: access denied, invalid image,
                network unreachable, still throttled after the last try...).
        """
        return map_ordered(self.detect, images, self.workers)
