"""Rekognition's formats <-> feelinvideo's: names in ``ExternalImageId``, images as JPEG bytes,
``DetectFaces`` / ``SearchFacesByImage`` responses as :class:`~feelinvideo.faces.Faces` and
names. Pure functions, no boto3 and no network, so everything here is unit-tested on
synthetic responses.

Source of the request/response shapes: Amazon Rekognition API reference (API version
2016-06-27), https://docs.aws.amazon.com/rekognition/latest/APIReference/ (``FaceDetail``,
``BoundingBox``, ``Landmark``, ``Emotion``, ``FaceMatch``, ``IndexFaces``), and the
Developer Guide's "Guidelines and quotas" for the image limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import GalleryError, ImageError
from ...faces import Faces, clip_xyxy
from ...schema import EMOTIONS

#: Largest image passed as bytes that the Rekognition image APIs accept: 5 MB
#: (Developer Guide, "Guidelines and quotas": "maximum image size as raw bytes passed in as
#: parameter to an API is 5 MB").
MAX_IMAGE_BYTES = 5 * 1024 * 1024

#: Rekognition's smallest accepted image side, in pixels (Developer Guide, "Guidelines and
#: quotas": minimum image dimension 80 pixels). Face crops are upscaled to it.
MIN_IMAGE_SIDE = 80

#: Margin added on each side of a face box before cropping it for a search, as a fraction
#: of the box's width / height.
CROP_MARGIN = 0.25

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

#: ``faces.csv`` columns holding Rekognition's raw emotion confidences (0-100), in
#: :attr:`Faces.data` of every face ``DetectFaces`` found.
REK_COLUMNS: tuple[str, ...] = tuple(f"rek_{t.lower()}" for t in REK_EMOTIONS)
#: Name from the collection (decoded ``ExternalImageId``; "" when no match).
PERSON_COLUMN = "rek_person"
#: ``Similarity`` of that match, 0-100 (NaN when no match).
SIMILARITY_COLUMN = "rek_similarity"

# ------------------------------------------------------------------ ExternalImageId names

#: Longest ``ExternalImageId`` the service accepts (API reference, ``IndexFaces``).
EXTERNAL_ID_MAX = 255
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ESCAPE_RE = re.compile(r"(?::[0-9A-F]{2})+")


def encode_external_id(name: str) -> str:
    """Encode a person's name as a Rekognition ``ExternalImageId``, reversibly.

    ``ExternalImageId`` allows only ``[a-zA-Z0-9_.\\-:]+``, 1-255 characters (API reference,
    ``IndexFaces``). Letters, digits, ``_``, ``.`` and ``-`` are kept; every other character
    (``:`` included) becomes ``:`` followed by two upper-case hex digits per UTF-8 byte, e.g.
    ``"Jean Dupont"`` -> ``"Jean:20Dupont"``, ``"José"`` -> ``"Jos:C3:A9"``.
    :func:`decode_external_id` undoes it.

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


def decode_external_id(external_id: str | None) -> str:
    """Return the name :func:`encode_external_id` encoded; other ids come back as they are.

    Runs of ``:XX`` escapes are decoded as UTF-8 (invalid sequences are left as written), so
    ids written by other tools (plain ``[a-zA-Z0-9_.-]``) decode to themselves; None or ""
    (a face indexed without an id) gives "".
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

    Rekognition's boxes are ratios of the image, so a shrunk image gives the same
    boxes once scaled back by the original size. Each retry scales the sides by
    ``0.9 * sqrt(max_bytes / size)`` (JPEG size grows about with the pixel count).

    Args:
        image: RGB uint8 (H, W, 3).
        max_bytes: largest encoded size (default the API's 5 MB, :data:`MAX_IMAGE_BYTES`).
        quality: JPEG quality 0-100.

    Raises:
        ImageError: the image is not (H, W, 3), or cannot be brought under the limit.
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


def face_crop(
    image: np.ndarray, xyxy: np.ndarray, margin: float = CROP_MARGIN
) -> np.ndarray | None:
    """Crop one face box from an RGB image, with ``margin`` x the box size on each side.

    Args:
        image: RGB uint8 (H, W, 3).
        xyxy: the box (4,), ``x_min, y_min, x_max, y_max`` in pixels of ``image``.
        margin: fraction of the box's width / height added on each side (clipped to the
            image).

    Returns:
        RGB uint8 (h, w, 3), upscaled so its shorter side is at least :data:`MIN_IMAGE_SIDE`
        pixels (Rekognition's minimum); None for a box less than 1 pixel wide or high.
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
    if side < 1:
        return None
    if side < MIN_IMAGE_SIDE:
        scale = MIN_IMAGE_SIDE / side
        crop = cv2.resize(
            crop,
            (math.ceil(crop.shape[1] * scale), math.ceil(crop.shape[0] * scale)),
            interpolation=cv2.INTER_LINEAR,
        )
    return crop


# ------------------------------------------------------------------ responses


def map_emotions(emotions: Sequence[Mapping]) -> tuple[np.ndarray, np.ndarray]:
    """Map Rekognition ``Emotions`` (``[{Type, Confidence 0-100}]``) by :data:`EMOTION_MAP`.

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
    ``Emotions`` are mapped by :func:`map_emotions`, their raw values (0-100) kept in
    :attr:`Faces.data` as the :data:`REK_COLUMNS` (always all nine float32 (N,) columns,
    also for zero faces).

    Args:
        response: the parsed ``DetectFaces`` response (``{"FaceDetails": [...]}``).
        width, height: size in pixels of the frame the boxes refer to (> 0).

    Returns:
        Faces with ``xyxy``, ``confidence``, ``scores`` and ``data`` set.
    """
    details = list(response.get("FaceDetails") or [])
    n = len(details)
    boxes = np.zeros((n, 4), dtype=np.float64)
    conf = np.zeros(n, dtype=np.float32)
    scores = np.zeros((n, len(EMOTIONS)), dtype=np.float32)
    raw = np.zeros((n, len(REK_EMOTIONS)), dtype=np.float32)
    for i, face in enumerate(details):
        box = face.get("BoundingBox") or {}
        left, top = float(box.get("Left", 0.0)), float(box.get("Top", 0.0))
        bw, bh = float(box.get("Width", 0.0)), float(box.get("Height", 0.0))
        boxes[i] = (left * width, top * height, (left + bw) * width, (top + bh) * height)
        conf[i] = float(face.get("Confidence", 0.0)) / 100.0
        scores[i], raw[i] = map_emotions(face.get("Emotions") or ())
    return Faces(
        xyxy=clip_xyxy(boxes, width, height),
        confidence=np.clip(conf, 0.0, 1.0),
        scores=scores,
        data={col: raw[:, j].copy() for j, col in enumerate(REK_COLUMNS)},
    )


def best_match(response: Mapping) -> tuple[str, float]:
    """The best match of a ``SearchFacesByImage`` response: ``(name, similarity 0-100)``.

    The name is the decoded ``Face.ExternalImageId`` (:func:`decode_external_id`) of the
    ``FaceMatches`` entry with the highest ``Similarity``; ``("", NaN)`` when there is none.
    """
    matches = response.get("FaceMatches") or []
    if not matches:
        return "", math.nan
    best = max(matches, key=lambda m: float(m.get("Similarity", 0.0)))
    name = decode_external_id((best.get("Face") or {}).get("ExternalImageId"))
    return name, float(best.get("Similarity", math.nan))


def index_outcome(response: Mapping) -> tuple[list[dict], int, list[str]]:
    """What an ``IndexFaces`` response (``MaxFaces=1``) says about one photo.

    Returns:
        ``(records, found, reasons)``: the indexed ``Face`` dicts (``FaceRecords[].Face``,
        at most one here), the number of faces the service saw (indexed plus unindexed),
        and the sorted ``Reasons`` given for faces that were not indexed other than
        ``EXCEEDS_MAX_FACES`` (e.g. ``LOW_QUALITY``, ``SMALL_BOUNDING_BOX``).
    """
    records = [r.get("Face") or {} for r in response.get("FaceRecords") or []]
    unindexed = list(response.get("UnindexedFaces") or [])
    reasons = {str(r) for face in unindexed for r in face.get("Reasons") or []}
    reasons.discard("EXCEEDS_MAX_FACES")
    return records, len(records) + len(unindexed), sorted(reasons)
