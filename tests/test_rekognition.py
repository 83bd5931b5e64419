"""The Rekognition backend, through the real boto3 client and a fake service on 127.0.0.1.

No network: every request goes to :mod:`fake_rekognition` via ``AWS_ENDPOINT_URL``, with fake
credentials from the environment; ``~/.aws`` files and the EC2 metadata service are switched
off so nothing real is picked up.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import data_file
from fake_rekognition import FakeRekognition

pytest.importorskip("boto3")

from feelinvideo.errors import BackendError, GalleryError, MissingDependencyError  # noqa: E402
from feelinvideo.rekognition import (  # noqa: E402
    EMOTION_MAP,
    REK_COLUMNS,
    REK_EMOTIONS,
    RekognitionBackend,
    RekognitionService,
    decode_external_id,
    dry_run_plan,
    encode_external_id,
    encode_jpeg,
    enroll_collection,
    faces_from_detect_faces,
    list_collection,
)
from feelinvideo.schema import EMOTIONS, FACE_COLUMNS  # noqa: E402

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_REKOGNITION",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def _isolate(monkeypatch, tmp_path) -> None:
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A started fake service, with the environment pointing boto3 at it."""
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with FakeRekognition() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        yield server


def _frame(width=596, height=336, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _one_line_error(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# ------------------------------------------------------------------ adapter and mapping


def test_box_conversion_and_clipping_in_the_adapter():
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
    np.testing.assert_allclose(faces.xyxy[0], [200, 50, 300, 150])
    np.testing.assert_allclose(faces.xyxy[1], [0, 0, 400, 200])
    np.testing.assert_allclose(faces.confidence, [0.995, 0.8], rtol=1e-6)
    assert faces.landmarks is None  # the second face has no landmarks
    one = faces_from_detect_faces({"FaceDetails": response["FaceDetails"][:1]}, 400, 200)
    np.testing.assert_allclose(one.landmarks[0], [[240, 80]] * 5)
    assert set(faces.extra) == set(REK_COLUMNS)
    empty = faces_from_detect_faces({"FaceDetails": []}, 400, 200)
    assert len(empty) == 0 and set(empty.extra) == set(REK_COLUMNS)


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
    box = {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}
    faces = faces_from_detect_faces(
        {"FaceDetails": [{"BoundingBox": box, "Confidence": 99, "Emotions": emotions}]}, 100, 100
    )
    scores = dict(zip(EMOTIONS, faces.scores[0], strict=True))
    assert scores["happy"] == pytest.approx(0.75) and scores["neutral"] == pytest.approx(0.25)
    assert sum(scores.values()) == pytest.approx(1.0)
    assert faces.extra["rek_happy"][0] == 60 and faces.extra["rek_confused"][0] == 15
    assert faces.extra["rek_unknown"][0] == 5 and faces.extra["rek_sad"][0] == 0

    only_confused = [{"Type": "CONFUSED", "Confidence": 100.0}]
    faces = faces_from_detect_faces(
        {"FaceDetails": [{"BoundingBox": box, "Confidence": 99, "Emotions": only_confused}]},
        100,
        100,
    )
    assert faces.scores[0, EMOTIONS.index("neutral")] == 1.0


@pytest.mark.parametrize(
    "name", ["obama", "Jean Dupont", "José Ñúñez", "a:b", "x/y%z", "李雷", "🙂", "kit_harington"]
)
def test_external_image_id_mapping_is_reversible(name):
    encoded = encode_external_id(name)
    assert re.fullmatch(r"[a-zA-Z0-9_.\-:]+", encoded) and len(encoded) <= 255
    assert decode_external_id(encoded) == name
    if re.fullmatch(r"[a-zA-Z0-9_.\-]+", name):
        assert encoded == name  # plain names are left as they are


def test_external_image_id_rejects_empty_and_too_long_names():
    with pytest.raises(GalleryError):
        encode_external_id("")
    with pytest.raises(GalleryError, match="at most 255"):
        encode_external_id("é" * 50)  # 6 characters each once encoded


def test_jpeg_is_shrunk_under_the_limit():
    import cv2

    image = _frame(800, 600)  # noise: about 0.5 MB as JPEG
    data = encode_jpeg(image, max_bytes=60_000)
    assert len(data) <= 60_000
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[0] < 600
    assert abs(decoded.shape[1] / decoded.shape[0] - 800 / 600) < 0.02


# ------------------------------------------------------------------ against the fake service


def test_detect_faces_through_boto3(fake):
    backend = RekognitionBackend(workers=4)
    frames = [_frame(596, 336, 1), _frame(640, 360, 2)]
    found = backend.analyze(frames)
    assert [op for op in fake.operations()] == ["DetectFaces", "DetectFaces"]
    assert all(params["Attributes"] == ["ALL"] for _, params, _ in fake.calls)
    assert sorted(size for _, _, size in fake.calls) == [(596, 336), (640, 360)]
    for faces, (w, h) in zip(found, [(596, 336), (640, 360)], strict=True):
        assert len(faces) == 2
        np.testing.assert_allclose(faces.xyxy[0], [0.35 * w, 0.2 * h, 0.65 * w, 0.7 * h], rtol=1e-5)
        # Left -0.1, Top 0.75, Height 0.4: clipped to the frame's left and bottom edges
        np.testing.assert_allclose(faces.xyxy[1], [0, 0.75 * h, 0.15 * w, h], rtol=1e-5)
        assert faces.dominant_index.tolist() == [EMOTIONS.index("happy"), EMOTIONS.index("neutral")]
        np.testing.assert_allclose(faces.landmarks[0, 2], [0.5 * w, 0.45 * h], rtol=1e-5)
        assert faces.extra["rek_happy"].tolist() == [80.0, 0.0]
        assert faces.extra["rek_calm"].tolist() == [10.0, 60.0]


def test_requests_run_concurrently_bounded_and_in_order(fake):
    fake.delay_s = 0.05
    sizes = [(200 + 10 * i, 120 + 5 * i) for i in range(12)]
    backend = RekognitionBackend(workers=4)
    found = backend.analyze([_frame(w, h, i) for i, (w, h) in enumerate(sizes)])
    assert 1 < fake.max_in_flight <= 4
    for faces, (w, h) in zip(found, sizes, strict=True):  # each result is its own frame's
        assert faces.xyxy[1, 3] == pytest.approx(h) and faces.xyxy[0, 2] == pytest.approx(0.65 * w)


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_throttling_is_answered_by_retry(fake, code):
    fake.fail("DetectFaces", code, "Rate exceeded", times=3)
    found = RekognitionBackend(workers=1).analyze([_frame()])
    assert len(found[0]) == 2
    assert fake.operations() == ["DetectFaces"] * 4  # three throttled, then answered


def test_throttling_gives_up_after_the_last_try(fake):
    fake.fail("DetectFaces", "ThrottlingException", "Rate exceeded", times=10)
    backend = RekognitionBackend(workers=1, max_attempts=3)
    with pytest.raises(BackendError, match="still throttled after 3 tries"):
        backend.analyze([_frame()])
    assert len(fake.calls) == 3


def test_a_400_error_becomes_one_line(fake):
    fake.fail("DetectFaces", "InvalidImageFormatException", "Request has invalid image format")
    with pytest.raises(BackendError) as info:
        RekognitionBackend(workers=1).analyze([_frame()])
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "AWS Rekognition DetectFaces: invalid image "
        "(InvalidImageFormatException: Request has invalid image format)"
    )


def test_enroll_search_and_list_names_from_external_image_id(fake, tmp_path):
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 120, 3), 128, np.uint8))
    people = {
        "José Ñúñez": [data_file("fer/justin.jpg"), blank],
        "obama": [data_file("face_recognition/obama.jpg")],
    }
    result = enroll_collection("class-1", people)
    assert result.created and result.indexed == {"José Ñúñez": 1, "obama": 1}
    assert result.skipped == [(blank, "no face found")]
    index_calls = [p for op, p, _ in fake.calls if op == "IndexFaces"]
    assert [p["ExternalImageId"] for p in index_calls] == [
        "Jos:C3:A9:20:C3:91:C3:BA:C3:B1ez"
    ] * 2 + ["obama"]
    assert all(p["MaxFaces"] == 1 and p["QualityFilter"] == "AUTO" for p in index_calls)

    again = enroll_collection("class-1", {"obama": [data_file("face_recognition/obama.jpg")]})
    assert not again.created  # CreateCollection answered ResourceAlreadyExistsException
    assert list_collection("class-1") == {"José Ñúñez": 1, "obama": 2}  # two ListFaces pages
    assert fake.operations().count("ListFaces") == 2

    backend = RekognitionBackend(collection="class-1", workers=4)
    (faces,) = backend.analyze([_frame()])
    assert faces.extra["rek_person"].tolist() == ["José Ñúñez", "José Ñúñez"]
    np.testing.assert_allclose(faces.extra["rek_similarity"], [99.1, 99.1], rtol=1e-5)
    searches = [p for op, p, _ in fake.calls if op == "SearchFacesByImage"]
    assert len(searches) == 2 and all(p["FaceMatchThreshold"] == 70.0 for p in searches)
    assert all(p["MaxFaces"] == 1 and p["CollectionId"] == "class-1" for p in searches)
    # crops: at least Rekognition's 80 px minimum
    crop_sizes = [size for op, _, size in fake.calls if op == "SearchFacesByImage"]
    assert all(min(size) >= 80 for size in crop_sizes)

    strict = RekognitionBackend(collection="class-1", face_match_threshold=99.5)
    (faces,) = strict.analyze([_frame()])
    assert faces.extra["rek_person"].tolist() == ["", ""]
    assert np.isnan(faces.extra["rek_similarity"]).all()

    fake.fail("SearchFacesByImage", "InvalidParameterException", "There are no faces in the image")
    (faces,) = backend.analyze([_frame()])
    assert sorted(faces.extra["rek_person"].tolist()) == ["", "José Ñúñez"]


def test_enroll_and_gallery_list_commands(fake, cli, tmp_path):
    import shutil

    train = data_file("face_recognition/knn_examples/train")
    folder = tmp_path / "people"
    for person in ("obama", "biden"):
        shutil.copytree(train / person, folder / person)
    shutil.copy(data_file("fer/justin.jpg"), folder / "Justin B.jpg")
    result = cli("enroll", folder, "--backend", "rekognition", "--collection", "class")
    assert result.exit_code == 0, result.stderr
    assert "into Rekognition collection class (created) in us-east-1" in result.stderr
    assert "obama\t" in result.stdout and "Justin B\t1 photo(s) enrolled" in result.stdout
    ids = {p["ExternalImageId"] for op, p, _ in fake.calls if op == "IndexFaces"}
    assert {"obama", "biden", "Justin:20B"} <= ids
    listed = cli("gallery", "list", "--backend", "rekognition", "--collection", "class")
    assert listed.exit_code == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert lines[0] == "name\tphotos"
    assert {line.split("\t")[0] for line in lines[1:]} == {"Justin B", "biden", "obama"}

    missing = cli("gallery", "list", "--backend", "rekognition", "--collection", "nobody")
    assert "collection 'nobody' not found" in _one_line_error(missing)
    usage = cli("enroll", folder, "--backend", "rekognition")
    assert usage.exit_code == 2 and "--collection" in usage.stderr
    usage = cli("gallery", "list", "--collection", "class")
    assert usage.exit_code == 2 and "--backend rekognition" in usage.stderr


def test_unknown_collection_is_one_line(fake):
    with pytest.raises(BackendError, match="collection 'nobody' not found in region us-east-1"):
        RekognitionBackend(collection="nobody").analyze([_frame()])
    with pytest.raises(BackendError, match="not found"):
        list_collection("nobody")


# ------------------------------------------------------------------ the CLI


def test_analyze_end_to_end_matches_the_local_backend(fake, cli, tmp_path):
    video = data_file("fer/woman2.mp4")
    local = cli("analyze", video, "--every", 2, "--no-video", "-q", "--out", tmp_path / "local")
    assert local.exit_code == 0, local.stderr
    plan = cli("analyze", video, "--backend", "rekognition", "--every", 2, "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert fake.calls == []  # the dry run called nothing
    rek = cli(
        "analyze", video, "--backend", "rekognition", "--every", 2, "--no-video", "-q",
        "--out", tmp_path / "rek",
    )  # fmt: skip
    assert rek.exit_code == 0, rek.stderr
    assert sorted(p.name for p in (tmp_path / "rek").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    local_df = pd.read_csv(tmp_path / "local" / "faces.csv")
    rek_df = pd.read_csv(tmp_path / "rek" / "faces.csv")
    assert list(local_df.columns)[: len(FACE_COLUMNS)] == list(FACE_COLUMNS)
    assert list(rek_df.columns) == list(local_df.columns) + list(REK_COLUMNS)
    summary = json.loads((tmp_path / "rek" / "summary.json").read_text())
    local_summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert summary["backend"] == "rekognition" and local_summary["backend"] == "local"
    assert set(summary) == set(local_summary)
    assert summary["sampled_frames"] == local_summary["sampled_frames"]
    assert fake.operations() == ["DetectFaces"] * summary["sampled_frames"]
    assert f"-> {summary['sampled_frames']} frames" in plan.stdout
    assert len(rek_df) == 2 * summary["sampled_frames"]
    assert (rek_df["x_min"] >= 0).all() and (rek_df["y_max"] <= 336).all()
    assert set(rek_df["dominant_emotion"]) == {"happy", "neutral"}
    assert summary["verdict"] == "interested"


def test_zero_faces_still_write_the_rek_columns(fake, cli, tmp_path):
    fake.faces = []
    fake.collections["class"] = []
    video = data_file("fer/test.mp4")
    result = cli(
        "analyze", video, "--backend", "rekognition", "--every", 2, "--no-video", "-q",
        "--collection", "class", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    header = (tmp_path / "out" / "faces.csv").read_text().strip().split(",")
    assert header[: len(FACE_COLUMNS)] == list(FACE_COLUMNS)
    assert header[-len(REK_COLUMNS) - 2 :] == [*REK_COLUMNS, "rek_person", "rek_similarity"]


def test_dry_run_prints_calls_and_cost_without_calling(fake, cli, tmp_path):
    video = data_file("fer/woman2.mp4")
    out = tmp_path / "out"
    result = cli(
        "analyze", video, "--backend", "rekognition", "--every", 1, "--collection", "class",
        "--dry-run", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "DetectFaces: 16 calls, US$0.016 at US$0.001 per image" in result.stdout
    assert "1 call per face found" in result.stdout
    assert fake.calls == [] and not out.exists()
    from feelinvideo.video import probe

    assert dry_run_plan(video, 0).detect_calls == probe(video).frame_count  # --every 0


@pytest.mark.parametrize(
    ("operation", "code", "args", "expected"),
    [
        ("DetectFaces", "AccessDeniedException", (), "access denied"),
        ("DetectFaces", "InvalidImageFormatException", (), "invalid image"),
        ("SearchFacesByImage", "", ("--collection", "nobody"), "collection 'nobody' not found"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(
    fake, cli, tmp_path, operation, code, args, expected
):
    if code:
        fake.fail(operation, code, "User: arn:aws:iam::123456789012:user/x is not authorized")
    out = tmp_path / "out"
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--backend", "rekognition", "-q", "--out", out, *args)
    assert expected in _one_line_error(result)
    assert not out.exists()


def test_network_unreachable_is_one_line(fake, cli, tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    out = tmp_path / "out"
    video = data_file("fer/test.mp4")
    result = cli("analyze", video, "--backend", "rekognition", "-q", "--out", out)
    assert "network unreachable" in _one_line_error(result)
    assert not out.exists()


def test_no_credentials_is_one_line_within_10_s(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "out"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "feelinvideo", "analyze", str(data_file("fer/test.mp4")),
         "--backend", "rekognition", "--out", str(out)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "Error: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "pass --profile, or run `aws configure`"
    )
    assert elapsed < 10 and not out.exists()


def test_unknown_profile_and_no_region(tmp_path, monkeypatch):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(BackendError, match="no AWS region"):
        RekognitionService()
    with pytest.raises(BackendError, match="profile 'nope' not found"):
        RekognitionService(region="us-east-1", profile="nope")


def test_missing_boto3_says_how_to_install(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'feelinvideo\[aws\]'"):
        RekognitionBackend()
    out = tmp_path / "out"
    result = cli("analyze", data_file("fer/test.mp4"), "--backend", "rekognition", "--out", out)
    assert "pip install 'feelinvideo[aws]'" in _one_line_error(result)
    assert not out.exists()


def test_aws_options_need_the_rekognition_backend(cli):
    result = cli("analyze", "video.mp4", "--collection", "class")
    assert result.exit_code == 2 and "--backend rekognition" in result.stderr


def test_importing_the_package_does_not_import_boto3():
    code = "import feelinvideo.cli, feelinvideo.rekognition, sys; print('boto3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_similarity_is_nan_without_a_match_and_name_empty(fake):
    fake.collections["empty"] = []
    (faces,) = RekognitionBackend(collection="empty").analyze([_frame()])
    assert faces.extra["rek_person"].tolist() == ["", ""]
    assert all(math.isnan(v) for v in faces.extra["rek_similarity"])
