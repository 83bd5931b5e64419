"""Amazon Rekognition, through boto3: a backend (faces and emotions); the gallery of names
(a face collection) is :mod:`feelinvideo.galleries.collection`, over the same client.

- :mod:`.client`: :class:`RekognitionService`, the boto3 client with botocore's retries
  and one-line :class:`RekognitionError` messages;
- :mod:`.adapter`: Rekognition's formats to feelinvideo's (``DetectFaces`` -> ``Faces``,
  names <-> ``ExternalImageId``, JPEG bytes, face crops, the emotion mapping);
- :mod:`.backend`: :class:`RekognitionBackend` (``DetectFaces``), a
  :class:`feelinvideo.backends.protocol.Backend`;
- :mod:`.pricing`: the ``--dry-run`` cost estimate.

Importing this package does not import boto3 (the optional extra
``pip install 'feelinvideo[aws]'``); making a service, backend or collection does.
"""

from __future__ import annotations

from .adapter import (
    EMOTION_MAP,
    REK_COLUMNS,
    REK_EMOTIONS,
    decode_external_id,
    encode_external_id,
    encode_jpeg,
    face_crop,
    faces_from_detect_faces,
    map_emotions,
)
from .backend import RekognitionBackend
from .client import RekognitionError, RekognitionService
from .pricing import PRICE_PER_IMAGE_USD, DryRunPlan, dry_run_plan

__all__ = [
    "EMOTION_MAP",
    "PRICE_PER_IMAGE_USD",
    "REK_COLUMNS",
    "REK_EMOTIONS",
    "DryRunPlan",
    "RekognitionBackend",
    "RekognitionError",
    "RekognitionService",
    "decode_external_id",
    "dry_run_plan",
    "encode_external_id",
    "encode_jpeg",
    "face_crop",
    "faces_from_detect_faces",
    "map_emotions",
]
