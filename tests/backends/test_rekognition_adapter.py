"""Rekognition's formats -> feelinvideo's, on synthetic responses: no boto3, no service."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from feelinvideo.backends.rekognition.adapter import (
    EMOTION_MAP,
    MIN_IMAGE_SIDE,
    REK_COLUMNS,
    REK_EMOTIONS,
    best_match,
    decode_external_id,
    encode_external_id,
    encode_jpeg,
    face_crop,
    faces_from_detect_faces,
    index_outcome,
    map_emotions,
)
from feelinvideo.errors import GalleryError, ImageError
from feelinvideo.faces import Faces
from feelinvideo.schema import EMOTIONS

BOX = {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}


def _noise(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_box_conversion_and_clipping():
    response = {
        "FaceDetails": [
            {
                "BoundingBox": {"Width": 0.25, "Height": 0.5, "Left": 0.5, "Top": 0.25},
                "Confidence": 99.5,
                "Emotions": [{"Type": "HAPPY", "Confidence": 90.0}],
                "Landmarks": [
                    {"Type": t, "X": 0.6, "Y": 0.4}
                    for t in ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
                ],
            },
            {  # past the left, top, right and bottom edges at once
                "BoundingBox": {"Width": 1.4, "Height": 1.3, "Left": -0.2, "Top": -0.1},
                "Confidence": 80.0,
                "Emotions": [],
            },
        ]
    }
    faces = faces_from_detect_faces(response, width=400, height=200)
    assert isinstance(faces, Faces) and len(faces) == 2
    assert faces.xyxy.dtype == np.float32 and faces.xyxy.shape == (2, 4)
    np.testing.assert_allclose(faces.xyxy[0], [200, 50, 300, 150])
    np.testing.assert_allclose(faces.xyxy[1], [0, 0, 400, 200])
    np.testing.assert_allclose(faces.confidence, [0.995, 0.8], rtol=1e-6)


def test_raw_confidences_go_to_data_also_for_zero_faces():
    faces = faces_from_detect_faces(
        {"FaceDetails": [{"BoundingBox": BOX, "Confidence": 99, "Emotions": []}] * 3}, 50, 50
    )
    assert list(faces.data) == list(REK_COLUMNS)
    assert all(v.shape == (3,) and v.dtype == np.float32 for v in faces.data.values())
    empty = faces_from_detect_faces({"FaceDetails": []}, 400, 200)
    assert len(empty) == 0 and list(empty.data) == list(REK_COLUMNS)
    assert all(v.shape == (0,) for v in empty.data.values())
    assert len(faces_from_detect_faces({}, 10, 10)) == 0  # no FaceDetails key at all


def test_emotion_mapping_table_and_renormalisation():
    assert set(EMOTION_MAP) == set(REK_EMOTIONS)
    mapped = [v for v in EMOTION_MAP.values() if v is not None]
    assert sorted(mapped) == sorted(EMOTIONS)  # each of the seven exactly once
    assert EMOTION_MAP["CALM"] == "neutral"
    assert EMOTION_MAP["CONFUSED"] is None and EMOTION_MAP["UNKNOWN"] is None

    emotions = [
        {"Type": "HAPPY", "Confidence": 60.0},
        {"Type": "CALM", "Confidence": 20.0},
        {"Type": "CONFUSED", "Confidence": 15.0},
        {"Type": "UNKNOWN", "Confidence": 5.0},
    ]
    faces = faces_from_detect_faces(
        {"FaceDetails": [{"BoundingBox": BOX, "Confidence": 99, "Emotions": emotions}]}, 100, 100
    )
    scores = dict(zip(EMOTIONS, faces.scores[0], strict=True))
    assert scores["happy"] == pytest.approx(0.75) and scores["neutral"] == pytest.approx(0.25)
    assert sum(scores.values()) == pytest.approx(1.0)
    assert faces.data["rek_happy"][0] == 60 and faces.data["rek_confused"][0] == 15
    assert faces.data["rek_unknown"][0] == 5 and faces.data["rek_sad"][0] == 0

    only_confused = [{"Type": "CONFUSED", "Confidence": 100.0}]
    faces = faces_from_detect_faces(
        {"FaceDetails": [{"BoundingBox": BOX, "Confidence": 99, "Emotions": only_confused}]},
        100,
        100,
    )
    assert faces.scores[0, EMOTIONS.index("neutral")] == 1.0


def test_map_emotions_shapes_and_unknown_types():
    scores, raw = map_emotions([{"Type": "happy", "Confidence": 10}, {"Type": "BORED"}])
    assert scores.shape == (7,) and raw.shape == (9,)
    assert scores.dtype == np.float32 and raw.dtype == np.float32
    assert scores[EMOTIONS.index("happy")] == 1.0  # type matched case-insensitively
    assert raw.sum() == 10  # BORED is ignored
    scores, raw = map_emotions([])
    assert scores[EMOTIONS.index("neutral")] == 1.0 and not raw.any()


@pytest.mark.parametrize(
    "name", ["obama", "Jean Dupont", "José Ñúñez", "a:b", "x/y%z", "李雷", "🙂", "kit_harington"]
)
def test_external_image_id_mapping_is_reversible(name):
    encoded = encode_external_id(name)
    assert re.fullmatch(r"[a-zA-Z0-9_.\-:]+", encoded) and len(encoded) <= 255
    assert decode_external_id(encoded) == name
    if re.fullmatch(r"[a-zA-Z0-9_.\-]+", name):
        assert encoded == name  # plain names are left as they are


def test_external_image_id_examples_from_the_readme():
    assert encode_external_id("Jean Dupont") == "Jean:20Dupont"
    assert encode_external_id("José") == "Jos:C3:A9"
    assert encode_external_id("a:b") == "a:3Ab"
    assert decode_external_id(None) == "" and decode_external_id("") == ""
    assert decode_external_id("x:FF") == "x:FF"  # not UTF-8: left as written


def test_external_image_id_rejects_empty_and_too_long_names():
    with pytest.raises(GalleryError):
        encode_external_id("")
    with pytest.raises(GalleryError, match="at most 255"):
        encode_external_id("é" * 50)  # 6 characters each once encoded


def test_jpeg_is_shrunk_under_the_limit():
    import cv2

    image = _noise(800, 600)  # noise: about 0.5 MB as JPEG
    data = encode_jpeg(image, max_bytes=60_000)
    assert len(data) <= 60_000
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[0] < 600
    assert abs(decoded.shape[1] / decoded.shape[0] - 800 / 600) < 0.02


def test_jpeg_rejects_non_rgb_arrays():
    with pytest.raises(ImageError, match="expected an RGB image"):
        encode_jpeg(np.zeros((10, 10), np.uint8))


def test_face_crop_adds_margin_and_reaches_the_minimum_side():
    image = _noise(400, 300)
    crop = face_crop(image, np.array([100, 100, 300, 200], np.float32))
    # 25 % of 200 x 100 on each side: 300 x 150, within the image
    assert crop.shape == (150, 300, 3)
    small = face_crop(image, np.array([10, 10, 30, 30], np.float32))
    assert min(small.shape[:2]) >= MIN_IMAGE_SIDE
    assert face_crop(image, np.array([5, 5, 5.5, 40], np.float32)) is None  # < 1 px wide


def test_best_match_takes_the_highest_similarity():
    response = {
        "FaceMatches": [
            {"Similarity": 80.0, "Face": {"ExternalImageId": "biden"}},
            {"Similarity": 97.5, "Face": {"ExternalImageId": "Jean:20Dupont"}},
        ]
    }
    assert best_match(response) == ("Jean Dupont", 97.5)
    name, similarity = best_match({"FaceMatches": []})
    assert name == "" and math.isnan(similarity)


def test_index_outcome_counts_faces_and_reasons():
    indexed = {
        "FaceRecords": [{"Face": {"FaceId": "f1", "ExternalImageId": "obama"}}],
        "UnindexedFaces": [{"Reasons": ["EXCEEDS_MAX_FACES"]}, {"Reasons": ["EXCEEDS_MAX_FACES"]}],
    }
    records, found, reasons = index_outcome(indexed)
    assert [r["FaceId"] for r in records] == ["f1"] and found == 3 and reasons == []
    low = {"FaceRecords": [], "UnindexedFaces": [{"Reasons": ["LOW_QUALITY", "LOW_SHARPNESS"]}]}
    assert index_outcome(low) == ([], 1, ["LOW_QUALITY", "LOW_SHARPNESS"])
    assert index_outcome({}) == ([], 0, [])
