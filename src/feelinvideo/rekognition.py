"""Amazon Rekognition backend: faces, emotions and names from the AWS service, through boto3.

The seed pipeline ran on Amazon Rekognition; this module keeps that option behind the same
:class:`feelinvideo.backends.Backend` interface as the local models, so sampling, outputs and
reports do not change:

* emotions: each sampled frame is JPEG-encoded (shrunk if needed to stay under the API's
  5 MB image-bytes limit) and sent to ``DetectFaces`` with ``Attributes=["ALL"]``;
* names: with a face collection, each detected face is cropped and sent to
  ``SearchFacesByImage``; the person is the match's ``ExternalImageId`` (see
  :func:`encode_external_id` for the reversible name mapping);
* enrolment: :func:`enroll_collection` creates the collection if needed and calls
  ``IndexFaces`` per photo; :func:`list_collection` counts faces per person (``ListFaces``).

Requests run concurrently on a bounded thread pool (boto3 clients are thread-safe), with
exponential backoff and full jitter on ``ThrottlingException`` and
``ProvisionedThroughputExceededException``. AWS configuration is the standard one: region and
profile arguments, else ``AWS_DEFAULT_REGION`` / ``AWS_PROFILE`` / ``AWS_ACCESS_KEY_ID`` ... and
``AWS_ENDPOINT_URL`` (honoured by boto3 >= 1.28.57 itself). boto3 is imported lazily: it is the
optional extra ``pip install 'feelinvideo[aws]'``.

Source of the request/response shapes: Amazon Rekognition API reference (API version
2016-06-27), https://docs.aws.amazon.com/rekognition/latest/APIReference/ (``DetectFaces``,
``SearchFacesByImage``, ``IndexFaces``, ``CreateCollection``, ``ListFaces``, ``FaceDetail``,
``BoundingBox``, ``Landmark``, ``Emotion``), and botocore's service model ``rekognition``.
"""

from __future__ import annotations

import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BackendError, GalleryError, ImageError, MissingDependencyError
from .faces import Faces, clip_xyxy
from .schema import EMOTIONS
from .video import estimate_sampled_frames

#: How to install the optional dependency, quoted in the missing-boto3 error.
INSTALL_HINT = "pip install 'feelinvideo[aws]'"

#: Largest image passed as bytes that the Rekognition image APIs accept: 5 MB
#: (Amazon Rekognition Developer Guide, "Guidelines and quotas": "maximum image size as raw
#: bytes passed in as parameter to an API is 5 MB").
MAX_IMAGE_BYTES = 5 * 1024 * 1024

#: Rekognition's smallest accepted image side, in pixels (Developer Guide, "Guidelines and
#: quotas": minimum image dimension 80 pixels). Face crops are upscaled to it.
MIN_IMAGE_SIDE = 80

#: Published price per image of DetectFaces (Group 2 API) and SearchFacesByImage / IndexFaces
#: (Group 1 APIs), US$ per image for the first 1 million images a month, US East (N. Virginia):
#: US$0.001 for both groups. Source: https://aws.amazon.com/rekognition/pricing/ (as listed in
#: 2024-2025; later tiers are cheaper, other regions may differ, the free tier is ignored).
#: Used only by ``--dry-run``; check the page before budgeting.
PRICE_PER_IMAGE_USD = 0.001
PRICE_SOURCE = "https://aws.amazon.com/rekognition/pricing/ (first 1M images/month, us-east-1)"

#: Rekognition's emotion types (``Emotion.Type``), in the order of the ``rek_*`` columns.
REK_EMOTIONS: tuple[str, ...] = (
    "HAPPY",
    "SAD",
    "ANGRY",
    "CONFUSED",
    "DISGUSTED",
    "SURPRISED",
    "CALM",
    "FEAR",
    "UNKNOWN",
)

#: Rekognition emotion type -> feelinvideo emotion (:data:`feelinvideo.schema.EMOTIONS`), or
#: None when it has no counterpart among the seven. CALM is taken as neutral; CONFUSED and
#: UNKNOWN are left out and the seven remaining confidences are renormalised to sum to 1. When
#: all seven are 0 (only CONFUSED/UNKNOWN, or no Emotions), the face is scored neutral = 1.
EMOTION_MAP: dict[str, str | None] = {
    "ANGRY": "angry",
    "DISGUSTED": "disgust",
    "FEAR": "fear",
    "HAPPY": "happy",
    "SAD": "sad",
    "SURPRISED": "surprise",
    "CALM": "neutral",
    "CONFUSED": None,
    "UNKNOWN": None,
}

#: ``faces.csv`` columns holding Rekognition's raw emotion confidences (0-100).
REK_COLUMNS: tuple[str, ...] = tuple(f"rek_{t.lower()}" for t in REK_EMOTIONS)
#: Name from the collection (decoded ``ExternalImageId``; "" when no match).
PERSON_COLUMN = "rek_person"
#: ``Similarity`` of that match, 0-100 (NaN when no match).
SIMILARITY_COLUMN = "rek_similarity"

#: Rekognition landmark types, in :class:`feelinvideo.faces.Faces` landmark order (left eye,
#: right eye, nose, mouth left, mouth right; left/right as seen in the image).
LANDMARK_TYPES: tuple[str, ...] = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")

#: Error codes answered by waiting and retrying.
THROTTLING_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException"})
#: Server-side errors also retried (documented as transient: HTTP 500/503).
TRANSIENT_CODES = frozenset({"InternalServerError", "ServiceUnavailableException"})

DEFAULT_FACE_MATCH_THRESHOLD = 70.0
DEFAULT_WORKERS = 8
DEFAULT_MAX_ATTEMPTS = 8

_CRED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
    }
)

# ------------------------------------------------------------------ ExternalImageId names

_EXTERNAL_ID_RE = re.compile(r"[a-zA-Z0-9_.\-:]+")
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ESCAPE_RE = re.compile(r"(?::[0-9A-F]{2})+")
EXTERNAL_ID_MAX = 255


def encode_external_id(name: str) -> str:
    """Encode a person's name as a Rekognition ``ExternalImageId``, reversibly.

    ``ExternalImageId`` allows only ``[a-zA-Z0-9_.\\-:]+``, 1-255 characters. Letters,
    digits, ``_``, ``.`` and ``-`` are kept; every other character (``:`` included) becomes
    ``:`` followed by two upper-case hex digits per UTF-8 byte, e.g. ``"Jean Dupont"`` ->
    ``"Jean:20Dupont"``, ``"José"`` -> ``"Jos:C3:A9"``. :func:`decode_external_id` undoes it.

    Raises:
        GalleryError: the name is empty or longer than 255 characters once encoded.
    """
    if not name:
        raise GalleryError("person name is empty; expected a non-empty name for ExternalImageId")
    out = []
    for ch in name:
        if ch in _PLAIN:
            out.append(ch)
        else:
            out.extend(f":{b:02X}" for b in ch.encode("utf-8"))
    encoded = "".join(out)
    if len(encoded) > EXTERNAL_ID_MAX:
        raise GalleryError(
            f"person name {name!r} is {len(encoded)} characters once encoded for Rekognition's "
            f"ExternalImageId; expected at most {EXTERNAL_ID_MAX}"
        )
    return encoded


def decode_external_id(external_id: str) -> str:
    """Return the name :func:`encode_external_id` encoded; other ids come back as they are.

    Runs of ``:XX`` escapes are decoded as UTF-8 (invalid sequences are left as written), so
    ids written by other tools (plain ``[a-zA-Z0-9_.-]``) decode to themselves.
    """

    def unescape(match: re.Match) -> str:
        raw = bytes(int(h, 16) for h in match.group(0).split(":")[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group(0)

    return _ESCAPE_RE.sub(unescape, external_id or "")


# ------------------------------------------------------------------ images


def encode_jpeg(image: np.ndarray, max_bytes: int = MAX_IMAGE_BYTES, quality: int = 90) -> bytes:
    """JPEG-encode an RGB uint8 image (H, W, 3), shrinking it until it fits ``max_bytes``.

    Rekognition's boxes and landmarks are ratios of the image, so a shrunk image gives the same
    boxes once scaled back by the original size. Each retry scales the sides by
    ``0.9 * sqrt(max_bytes / size)`` (JPEG size grows about with the pixel count).

    Raises:
        ImageError: the image is not (H, W, 3) uint8, or cannot be brought under the limit.
    """
    import cv2

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ImageError(f"expected an RGB image (H, W, 3), got an array of shape {image.shape}")
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    for _ in range(12):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ImageError(f"could not JPEG-encode an image of shape {image.shape}")
        if buf.nbytes <= max_bytes:
            return buf.tobytes()
        scale = 0.9 * math.sqrt(max_bytes / buf.nbytes)
        h, w = bgr.shape[:2]
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        if size == (w, h):
            break
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    raise ImageError(
        f"could not JPEG-encode an image of shape {image.shape} under {max_bytes} bytes"
    )


def face_crop(image: np.ndarray, xyxy: np.ndarray, margin: float = 0.25) -> np.ndarray | None:
    """Crop one face box (``xyxy`` pixels) from an RGB image with ``margin`` x box size each side.

    The crop is upscaled so its shorter side is at least :data:`MIN_IMAGE_SIDE` pixels
    (Rekognition's minimum). Returns None for a box less than 1 pixel wide or high.
    """
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    bw, bh = x2 - x1, y2 - y1
    if bw < 1 or bh < 1:
        return None
    x1, x2 = max(0, int(x1 - margin * bw)), min(w, int(math.ceil(x2 + margin * bw)))
    y1, y2 = max(0, int(y1 - margin * bh)), min(h, int(math.ceil(y2 + margin * bh)))
    crop = image[y1:y2, x1:x2]
    side = min(crop.shape[:2])
    if side < MIN_IMAGE_SIDE:
        scale = MIN_IMAGE_SIDE / side
        crop = cv2.resize(
            crop,
            (math.ceil(crop.shape[1] * scale), math.ceil(crop.shape[0] * scale)),
            interpolation=cv2.INTER_LINEAR,
        )
    return crop


# ------------------------------------------------------------------ response adapter


def map_emotions(emotions: Sequence[Mapping]) -> tuple[np.ndarray, np.ndarray]:
    """Map Rekognition ``Emotions`` ([{Type, Confidence 0-100}]) by :data:`EMOTION_MAP`.

    Returns:
        ``(scores, raw)``: float32 (7,) probabilities in :data:`EMOTIONS` order summing to 1,
        and float32 (9,) raw confidences 0-100 in :data:`REK_EMOTIONS` order (0 for types the
        response leaves out; unknown types are ignored).
    """
    raw = np.zeros(len(REK_EMOTIONS), dtype=np.float32)
    for item in emotions or ():
        kind = str(item.get("Type", "")).upper()
        if kind in REK_EMOTIONS:
            raw[REK_EMOTIONS.index(kind)] = float(item.get("Confidence", 0.0))
    scores = np.zeros(len(EMOTIONS), dtype=np.float64)
    for kind, value in zip(REK_EMOTIONS, raw, strict=True):
        target = EMOTION_MAP[kind]
        if target is not None:
            scores[EMOTIONS.index(target)] += max(float(value), 0.0)
    total = scores.sum()
    if total > 0:
        scores /= total
    else:
        scores[EMOTIONS.index("neutral")] = 1.0
    return scores.astype(np.float32), raw


def faces_from_detect_faces(response: Mapping, width: int, height: int) -> Faces:
    """Convert a ``DetectFaces`` response into :class:`Faces` for a ``width`` x ``height`` frame.

    ``BoundingBox`` ``{Left, Top, Width, Height}`` are ratios of the image size and may fall
    below 0 or above 1 for faces cut by the frame edge; they become ``xyxy`` pixels and are
    clipped to the frame here, once. ``Confidence`` (0-100) becomes ``confidence`` (0-1);
    ``Emotions`` are mapped by :func:`map_emotions`, their raw values kept in ``extra`` as the
    :data:`REK_COLUMNS` (always all nine, also for zero faces). The five ``Landmarks`` of
    :data:`LANDMARK_TYPES` (ratios) become pixels, not clipped; when any face lacks one of
    them, ``landmarks`` is None.

    Args:
        response: the parsed ``DetectFaces`` response (``{"FaceDetails": [...]}``).
        width, height: size in pixels of the frame the boxes refer to (> 0).
    """
    details = list(response.get("FaceDetails") or [])
    n = len(details)
    boxes = np.zeros((n, 4), dtype=np.float64)
    conf = np.zeros(n, dtype=np.float32)
    scores = np.zeros((n, len(EMOTIONS)), dtype=np.float32)
    raw = np.zeros((n, len(REK_EMOTIONS)), dtype=np.float32)
    marks = np.zeros((n, len(LANDMARK_TYPES), 2), dtype=np.float32)
    have_marks = True
    for i, face in enumerate(details):
        box = face.get("BoundingBox") or {}
        left, top = float(box.get("Left", 0.0)), float(box.get("Top", 0.0))
        bw, bh = float(box.get("Width", 0.0)), float(box.get("Height", 0.0))
        boxes[i] = (left * width, top * height, (left + bw) * width, (top + bh) * height)
        conf[i] = float(face.get("Confidence", 0.0)) / 100.0
        scores[i], raw[i] = map_emotions(face.get("Emotions") or ())
        points = {m.get("Type"): m for m in face.get("Landmarks") or ()}
        for j, kind in enumerate(LANDMARK_TYPES):
            if kind in points:
                marks[i, j] = (float(points[kind]["X"]) * width, float(points[kind]["Y"]) * height)
            else:
                have_marks = False
    extra = {col: raw[:, j].copy() for j, col in enumerate(REK_COLUMNS)}
    return Faces(
        xyxy=clip_xyxy(boxes, width, height),
        confidence=np.clip(conf, 0.0, 1.0),
        scores=scores,
        landmarks=marks if have_marks and n else None,
        extra=extra,
    )


# ------------------------------------------------------------------ dry run


@dataclass
class DryRunPlan:
    """What an ``analyze --backend rekognition`` run would call, and what it would cost.

    Attributes:
        video: the video's file name.
        duration_s: its duration in seconds.
        every_s: sampling interval in seconds.
        sampled_frames: frames that would be sampled (one ``DetectFaces`` call each).
        detect_calls: ``DetectFaces`` calls.
        collection: face collection searched (one ``SearchFacesByImage`` call per face
            found, unknown before the run), or None.
        price_per_image_usd: :data:`PRICE_PER_IMAGE_USD`.
    """

    video: str
    duration_s: float
    every_s: float
    sampled_frames: int
    detect_calls: int
    collection: str | None = None
    price_per_image_usd: float = PRICE_PER_IMAGE_USD

    @property
    def detect_cost_usd(self) -> float:
        """US$ for the ``DetectFaces`` calls at the published per-image price."""
        return self.detect_calls * self.price_per_image_usd

    def describe(self) -> str:
        """Human lines for stdout."""
        price = self.price_per_image_usd
        lines = [
            f"dry run: {self.video}, {self.duration_s:.1f} s sampled every {self.every_s:g} s "
            f"-> {self.sampled_frames} frames",
            f"DetectFaces: {self.detect_calls} calls, US${self.detect_cost_usd:.3f} "
            f"at US${price:g} per image",
        ]
        if self.collection:
            lines.append(
                f"SearchFacesByImage (collection {self.collection}): 1 call per face found, "
                f"US${price:g} each (e.g. {self.detect_calls} calls, "
                f"US${self.detect_cost_usd:.3f}, at one face per frame)"
            )
        lines.append(f"price source: {PRICE_SOURCE}")
        lines.append("nothing was called and nothing was written")
        return "\n".join(lines)


def dry_run_plan(
    video_path: str | os.PathLike, every_s: float, collection: str | None = None
) -> DryRunPlan:
    """Plan an ``analyze --backend rekognition`` run without calling AWS or needing boto3.

    Raises:
        VideoError: the video is missing or not a video.
    """
    from .video import probe

    info = probe(video_path)
    frames = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every_s)
    return DryRunPlan(Path(video_path).name, info.duration_s, every_s, frames, frames, collection)


# ------------------------------------------------------------------ service client


def _boto3():
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise MissingDependencyError(
            f"the rekognition backend needs boto3, which is not installed: {INSTALL_HINT}"
        ) from None
    return boto3, botocore.config, botocore.exceptions


class RekognitionService:
    """A boto3 Rekognition client with feelinvideo's retries and one-line errors.

    Credentials and region are resolved here, so a missing one fails before any frame is
    decoded. Thread-safe: :meth:`call` may run from many threads.

    Args:
        region: AWS region (default: ``AWS_DEFAULT_REGION`` or the profile's).
        profile: named profile from ``~/.aws`` (default: ``AWS_PROFILE`` or the default chain).
        endpoint_url: service URL (default: ``AWS_ENDPOINT_URL(_REKOGNITION)`` or AWS's).
        max_attempts: tries per request for throttling and transient server errors (>= 1).
        max_connections: HTTP connection pool size (set it to the number of threads).
        connect_timeout_s, read_timeout_s: socket timeouts per request.
        sleep: called with the backoff in seconds (tests may replace it).

    Raises:
        MissingDependencyError: boto3 is not installed.
        BackendError: unknown profile, no region, or no credentials.
    """

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_connections: int = DEFAULT_WORKERS,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        boto3, config, exceptions = _boto3()
        self._exc = exceptions
        self.max_attempts = max(1, int(max_attempts))
        self._sleep = sleep
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except exceptions.ProfileNotFound:
            raise BackendError(
                f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials"
            ) from None
        if not session.region_name:
            raise BackendError(
                "no AWS region set: pass --region or set AWS_DEFAULT_REGION "
                "(or a region in the AWS profile)"
            )
        try:
            credentials = session.get_credentials()
        except exceptions.BotoCoreError as exc:
            raise BackendError(f"AWS credentials could not be loaded: {exc}") from None
        if credentials is None:
            raise BackendError(_NO_CREDENTIALS)
        cfg = config.Config(
            retries={"mode": "standard", "total_max_attempts": 1},  # retries are ours
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            max_pool_connections=max(1, int(max_connections)),
            user_agent_extra="feelinvideo",
        )
        try:
            self.client = session.client("rekognition", endpoint_url=endpoint_url, config=cfg)
        except exceptions.BotoCoreError as exc:
            raise BackendError(f"cannot create the AWS Rekognition client: {exc}") from None
        self.region = session.region_name
        self.endpoint = self.client.meta.endpoint_url

    def call(self, operation: str, **params) -> dict:
        """Call one Rekognition operation (``"DetectFaces"``...) with retries and backoff.

        Throttling (:data:`THROTTLING_CODES`) and transient server errors are retried up to
        ``max_attempts`` tries in all, waiting ``uniform(0, min(10, 0.2 * 2**(try-1)))``
        seconds between tries (exponential backoff, full jitter).

        Raises:
            BackendError: any other error, or still failing after the last try (one line).
        """
        method = getattr(self.client, _snake(operation))
        attempt = 0
        while True:
            attempt += 1
            try:
                return method(**params)
            except self._exc.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in THROTTLING_CODES | TRANSIENT_CODES and attempt < self.max_attempts:
                    self._sleep(random.uniform(0.0, min(10.0, 0.2 * 2 ** (attempt - 1))))
                    continue
                raise self._translate(exc, operation, params, attempt) from None
            except self._exc.BotoCoreError as exc:
                raise self._translate(exc, operation, params, attempt) from None

    def _translate(self, exc, operation: str, params: Mapping, attempts: int) -> BackendError:
        error = exc.response.get("Error", {}) if isinstance(exc, self._exc.ClientError) else {}
        return RekognitionError(
            self._message(exc, operation, params, attempts), error.get("Code", "")
        )

    def _message(self, exc, operation: str, params: Mapping, attempts: int) -> str:
        ex = self._exc
        where = f"AWS Rekognition {operation}"
        if isinstance(exc, ex.ClientError):
            error = exc.response.get("Error", {})
            code = error.get("Code", "") or "error"
            message = " ".join(str(error.get("Message", "")).split()) or "no message"
            collection = params.get("CollectionId")
            if code == "AccessDeniedException":
                return (
                    f"{where}: access denied ({message}); the credentials need the "
                    f"rekognition:{operation} permission"
                )
            if code == "ResourceNotFoundException" and collection:
                return (
                    f"Rekognition collection {collection!r} not found in region {self.region}: "
                    f"expected an existing collection (create it with `feelinvideo enroll DIR "
                    f"--backend rekognition --collection {collection}`)"
                )
            if code in ("InvalidImageFormatException", "ImageTooLargeException"):
                return f"{where}: invalid image ({code}: {message})"
            if code in THROTTLING_CODES:
                return (
                    f"{where}: still throttled after {attempts} tries ({code}); sample fewer "
                    f"frames (--every) or ask AWS for a higher TPS quota"
                )
            if code in _CRED_CODES:
                return (
                    f"{where}: AWS rejected the credentials ({code}: {message}); check "
                    f"AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile"
                )
            return f"{where} failed: {code}: {message}"
        if isinstance(exc, (ex.NoCredentialsError, ex.PartialCredentialsError)):
            return _NO_CREDENTIALS
        if isinstance(exc, ex.EndpointConnectionError):
            return (
                f"{where}: cannot reach {self.endpoint}: network unreachable "
                f"(check the connection, --region and AWS_ENDPOINT_URL)"
            )
        if isinstance(exc, (ex.ConnectTimeoutError, ex.ReadTimeoutError)):
            return f"{where}: {self.endpoint} timed out ({exc})"
        if isinstance(exc, ex.ConnectionError):
            return f"{where}: connection to {self.endpoint} failed ({exc})"
        return f"{where} failed: {exc}"


class RekognitionError(BackendError):
    """A Rekognition request failed; ``code`` is the service's error code ("" when none)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


_NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, "
    "or run `aws configure`"
)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _map_ordered(fn: Callable, items: Sequence, workers: int) -> list:
    """``[fn(x) for x in items]`` on at most ``workers`` threads, in order; first error wins."""
    if not items:
        return []
    if workers <= 1 or len(items) == 1:
        return [fn(x) for x in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="rek")
    try:
        futures = [pool.submit(fn, x) for x in items]
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------ the backend


class RekognitionBackend:
    """Faces and emotions from Rekognition ``DetectFaces``; names from ``SearchFacesByImage``.

    Implements :class:`feelinvideo.backends.Backend`. ``analyze`` sends the frames of a
    batch concurrently (``workers`` threads, order kept), then, with a collection, every
    detected face crop. Adds :attr:`extra_columns` to ``faces.csv``: the nine ``rek_*``
    confidences (0-100) and, with a collection, ``rek_person`` (decoded ``ExternalImageId``,
    "" for no match) and ``rek_similarity`` (0-100, NaN for no match).

    Args:
        collection: face collection to search for names, or None for no names.
        face_match_threshold: ``FaceMatchThreshold`` (0-100) of ``SearchFacesByImage``.
        workers: concurrent requests (>= 1).
        batch_size: frames per ``analyze`` call (default ``2 * workers``).
        service: a ready :class:`RekognitionService`; else one is made from ``region``,
            ``profile``, ``endpoint_url`` and ``max_attempts``.

    Raises:
        MissingDependencyError: boto3 is not installed.
        BackendError: no credentials or region, unknown profile; later, service errors.
    """

    name = "rekognition"

    def __init__(
        self,
        collection: str | None = None,
        face_match_threshold: float = DEFAULT_FACE_MATCH_THRESHOLD,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        workers: int = DEFAULT_WORKERS,
        batch_size: int | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        service: RekognitionService | None = None,
    ):
        if not 0 <= face_match_threshold <= 100:
            raise ValueError(f"face_match_threshold must be in 0-100, got {face_match_threshold}")
        self.workers = max(1, int(workers))
        self.batch_size = int(batch_size or 2 * self.workers)
        self.collection = collection or None
        self.face_match_threshold = float(face_match_threshold)
        self.service = service or RekognitionService(
            region, profile, endpoint_url, max_attempts=max_attempts, max_connections=self.workers
        )
        self.extra_columns: tuple[str, ...] = REK_COLUMNS + (
            (PERSON_COLUMN, SIMILARITY_COLUMN) if self.collection else ()
        )

    def detect(self, image: np.ndarray) -> Faces:
        """``DetectFaces`` on one RGB uint8 frame (H, W, 3) -> :class:`Faces` in its pixels."""
        response = self.service.call(
            "DetectFaces", Image={"Bytes": encode_jpeg(image)}, Attributes=["ALL"]
        )
        return faces_from_detect_faces(response, image.shape[1], image.shape[0])

    def search(self, image: np.ndarray, xyxy: np.ndarray) -> tuple[str, float]:
        """``SearchFacesByImage`` on one face crop -> (name, similarity 0-100) or ("", NaN).

        A crop in which Rekognition finds no face (``InvalidParameterException``, as the API
        reference documents for that case) counts as no match.
        """
        crop = face_crop(image, xyxy)
        if crop is None or self.collection is None:
            return "", math.nan
        try:
            response = self.service.call(
                "SearchFacesByImage",
                CollectionId=self.collection,
                Image={"Bytes": encode_jpeg(crop)},
                FaceMatchThreshold=self.face_match_threshold,
                MaxFaces=1,
            )
        except RekognitionError as exc:
            if exc.code == "InvalidParameterException":
                return "", math.nan
            raise
        matches = response.get("FaceMatches") or []
        if not matches:
            return "", math.nan
        best = max(matches, key=lambda m: float(m.get("Similarity", 0.0)))
        name = decode_external_id(best.get("Face", {}).get("ExternalImageId", ""))
        return name, float(best.get("Similarity", math.nan))

    def analyze(self, images: list[np.ndarray]) -> list[Faces]:
        """One :class:`Faces` per RGB uint8 image (H, W, 3), boxes in its pixels.

        Raises:
            BackendError: a request failed (one line: access denied, unknown collection,
                invalid image, network unreachable, throttled after the last try...).
        """
        found: list[Faces] = _map_ordered(self.detect, images, self.workers)
        if self.collection:
            jobs = [(i, j) for i, faces in enumerate(found) for j in range(len(faces))]
            names = _map_ordered(
                lambda ij: self.search(images[ij[0]], found[ij[0]].xyxy[ij[1]]),
                jobs,
                self.workers,
            )
            per_frame: dict[int, list[tuple[str, float]]] = {}
            for (i, _), hit in zip(jobs, names, strict=True):
                per_frame.setdefault(i, []).append(hit)
            for i, faces in enumerate(found):
                hits = per_frame.get(i, [])
                faces.extra[PERSON_COLUMN] = np.array([h[0] for h in hits], dtype=object)
                faces.extra[SIMILARITY_COLUMN] = np.array([h[1] for h in hits], dtype=np.float32)
        return found


# ------------------------------------------------------------------ collections


@dataclass
class EnrollResult:
    """Outcome of :func:`enroll_collection`.

    Attributes:
        collection: the collection.
        created: True when the collection was created by this call.
        indexed: faces indexed per person name.
        skipped: (photo, reason) for photos in which Rekognition indexed no face.
    """

    collection: str
    created: bool
    indexed: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _service(service, region, profile, endpoint_url) -> RekognitionService:
    return service or RekognitionService(region, profile, endpoint_url)


def create_collection_if_needed(
    collection: str,
    service: RekognitionService | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> bool:
    """Create the face collection unless it exists (``CreateCollection``).

    Returns:
        True when it was created, False when it already existed.

    Raises:
        BackendError: access denied, invalid name, network... (one line).
    """
    service = _service(service, region, profile, endpoint_url)
    try:
        service.call("CreateCollection", CollectionId=collection)
    except RekognitionError as exc:
        if exc.code == "ResourceAlreadyExistsException":
            return False
        raise
    return True


def enroll_collection(
    collection: str,
    people: Mapping[str, Sequence[str | os.PathLike]],
    service: RekognitionService | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> EnrollResult:
    """Index each person's photos into a Rekognition collection, creating it if needed.

    Each photo goes to ``IndexFaces`` with ``ExternalImageId`` = the encoded name
    (:func:`encode_external_id`), ``MaxFaces=1`` (the largest face) and
    ``QualityFilter="AUTO"``. Every photo is read and every name checked before the first
    call, so a bad input indexes nothing.

    Args:
        collection: collection id (``[a-zA-Z0-9_.\\-]+``).
        people: person name -> photo paths (JPEG or PNG).

    Raises:
        ImageError: a photo is missing or unreadable.
        GalleryError: a name cannot be an ExternalImageId (empty, too long).
        BackendError: a request failed (one line).
    """
    from .gallery import load_photo

    jobs = []
    for name, photos in people.items():
        external_id = encode_external_id(name)
        for photo in photos:
            path = Path(photo)
            jobs.append((name, external_id, path, encode_jpeg(load_photo(path))))
    service = _service(service, region, profile, endpoint_url)
    result = EnrollResult(collection, create_collection_if_needed(collection, service))
    for name, external_id, path, jpeg in jobs:
        response = service.call(
            "IndexFaces",
            CollectionId=collection,
            Image={"Bytes": jpeg},
            ExternalImageId=external_id,
            MaxFaces=1,
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
        records = response.get("FaceRecords") or []
        result.indexed[name] = result.indexed.get(name, 0) + len(records)
        if not records:
            reasons = [
                r for face in response.get("UnindexedFaces") or [] for r in face.get("Reasons", [])
            ]
            result.skipped.append(
                (path, "face not indexed: " + ", ".join(reasons) if reasons else "no face found")
            )
    return result


def list_collection(
    collection: str,
    service: RekognitionService | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    page_size: int = 1000,
) -> dict[str, int]:
    """Faces per person in a collection (``ListFaces``, all pages), sorted by name.

    Names are decoded ``ExternalImageId`` values; faces indexed without one count under "".

    Raises:
        BackendError: unknown collection, access denied, network... (one line).
    """
    service = _service(service, region, profile, endpoint_url)
    counts: dict[str, int] = {}
    token = None
    seen_tokens: set[str] = set()
    while True:
        params = {"CollectionId": collection, "MaxResults": int(page_size)}
        if token:
            params["NextToken"] = token
        response = service.call("ListFaces", **params)
        for face in response.get("Faces") or []:
            name = decode_external_id(face.get("ExternalImageId", ""))
            counts[name] = counts.get(name, 0) + 1
        token = response.get("NextToken")
        if not token or token in seen_tokens:
            break
        seen_tokens.add(token)
    return dict(sorted(counts.items()))


__all__ = [
    "EMOTION_MAP",
    "PRICE_PER_IMAGE_USD",
    "REK_COLUMNS",
    "DryRunPlan",
    "EnrollResult",
    "RekognitionError",
    "RekognitionBackend",
    "RekognitionService",
    "create_collection_if_needed",
    "decode_external_id",
    "dry_run_plan",
    "encode_external_id",
    "encode_jpeg",
    "enroll_collection",
    "faces_from_detect_faces",
    "list_collection",
]
