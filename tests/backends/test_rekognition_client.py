"""The Rekognition client: set-up, botocore's retries and one-line errors, through the real
boto3 client and the fake service on 127.0.0.1 (:mod:`fake_rekognition`); never AWS.

botocore's standard retries wait ``rand(0, 1) * 2**i`` s (at most 20 s) after a throttling
error, so the tests that are throttled keep the number of tries small.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from fake_rekognition import isolate_aws, serve_fake

pytest.importorskip("boto3")

from feelinvideo.backends.rekognition.client import (  # noqa: E402
    DEFAULT_MAX_ATTEMPTS,
    NO_CREDENTIALS,
    RekognitionError,
    RekognitionService,
    map_ordered,
)
from feelinvideo.errors import BackendError, MissingDependencyError  # noqa: E402


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A started fake service, with the environment pointing boto3 at it."""
    with serve_fake(monkeypatch, tmp_path) as server:
        yield server


def _image() -> dict:
    """An ``Image`` parameter: a small grey JPEG."""
    import cv2
    import numpy as np

    ok, jpeg = cv2.imencode(".jpg", np.full((100, 120, 3), 90, np.uint8))
    return {"Bytes": jpeg.tobytes()}


def _detect(service: RekognitionService) -> dict:
    return service.call("DetectFaces", Image=_image(), Attributes=["ALL"])


def test_a_call_goes_through_boto3(fake):
    service = RekognitionService()
    assert service.region == "us-east-1" and service.endpoint == fake.url
    assert service.max_attempts == DEFAULT_MAX_ATTEMPTS and service.retry_mode == "standard"
    response = _detect(service)
    assert len(response["FaceDetails"]) == 2
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert fake.operations() == ["DetectFaces"]
    service.close()
    assert len(_detect(service)["FaceDetails"]) == 2  # a closed service makes a new client


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_throttling_is_answered_by_botocores_retries(fake, code):
    fake.fail("DetectFaces", code, "Rate exceeded", times=2)
    response = _detect(RekognitionService())
    assert len(response["FaceDetails"]) == 2
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert fake.operations() == ["DetectFaces"] * 3  # two throttled, then answered


def test_transient_server_errors_are_retried(fake):
    fake.fail("DetectFaces", "InternalServerError", "try again", status=500, times=2)
    assert len(_detect(RekognitionService())["FaceDetails"]) == 2
    assert fake.operations() == ["DetectFaces"] * 3


def test_throttling_gives_up_after_the_last_try(fake):
    fake.fail("DetectFaces", "ThrottlingException", "Rate exceeded", times=10)
    with pytest.raises(RekognitionError) as info:
        _detect(RekognitionService(max_attempts=3))
    message = str(info.value)
    assert message.startswith("AWS Rekognition DetectFaces: still throttled after 3 tries ")
    assert "\n" not in message
    assert info.value.code == "ThrottlingException" and info.value.attempts == 3
    assert len(fake.calls) == 3


def test_max_attempts_comes_from_the_aws_configuration(fake, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    service = RekognitionService()
    assert service.max_attempts == 2 and service.retry_mode == "adaptive"
    fake.fail("DetectFaces", "ThrottlingException", "Rate exceeded", times=10)
    with pytest.raises(BackendError, match="still throttled after 2 tries"):
        _detect(service)
    assert len(fake.calls) == 2
    assert RekognitionService(max_attempts=1).max_attempts == 1  # an argument wins


def test_a_400_error_becomes_one_line_and_is_not_retried(fake):
    fake.fail("DetectFaces", "InvalidImageFormatException", "Request has invalid image format")
    with pytest.raises(BackendError) as info:
        _detect(RekognitionService())
    assert str(info.value) == (
        "AWS Rekognition DetectFaces: invalid image "
        "(InvalidImageFormatException: Request has invalid image format)"
    )
    assert info.value.attempts == 1 and len(fake.calls) == 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "AWS Rekognition DetectFaces: access denied (User: arn:aws"),
        ("UnrecognizedClientException", "AWS Rekognition DetectFaces: AWS rejected the creden"),
        ("InvalidParameterException", "AWS Rekognition DetectFaces failed: InvalidParameterEx"),
    ],
)
def test_service_errors_are_one_line(fake, code, expected):
    fake.fail("DetectFaces", code, "User: arn:aws:iam::123456789012:user/x is not\nauthorized")
    with pytest.raises(RekognitionError) as info:
        _detect(RekognitionService())
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)
    assert info.value.code == code


def test_unknown_collection_is_one_line(fake):
    service = RekognitionService()
    with pytest.raises(RekognitionError) as info:
        service.call("SearchFacesByImage", CollectionId="nobody", Image=_image())
    assert str(info.value).startswith(
        "Rekognition collection 'nobody' not found in region us-east-1: "
    )
    assert info.value.code == "ResourceNotFoundException"
    with pytest.raises(RekognitionError, match="collection 'nobody' not found"):
        service.list_all("ListFaces", "Faces", CollectionId="nobody")


def test_list_all_follows_every_page(fake):
    fake.collections["c"] = [{"FaceId": f"id-{i}", "ExternalImageId": "x"} for i in range(5)]
    fake.list_page_size = 2
    faces = RekognitionService().list_all("ListFaces", "Faces", page_size=100, CollectionId="c")
    assert [f["FaceId"] for f in faces] == [f"id-{i}" for i in range(5)]
    assert fake.operations() == ["ListFaces"] * 3
    assert [p.get("NextToken") for _, p, _ in fake.calls] == [None, "2", "4"]
    assert all(p["MaxResults"] == 100 for _, p, _ in fake.calls)


def test_network_unreachable_is_one_line(fake, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = RekognitionService(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=2)
    with pytest.raises(RekognitionError) as info:
        _detect(service)
    assert str(info.value).startswith(
        f"AWS Rekognition DetectFaces: cannot reach http://127.0.0.1:{port}: network unreachable"
    )


def test_no_credentials_is_one_line(tmp_path, monkeypatch):
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(RekognitionError) as info:
        RekognitionService()
    assert str(info.value) == NO_CREDENTIALS
    assert NO_CREDENTIALS.startswith("no AWS credentials found: ")


def test_unknown_profile_and_no_region(tmp_path, monkeypatch):
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(BackendError, match="^no AWS region set"):
        RekognitionService()
    with pytest.raises(BackendError, match="^AWS profile 'nope' not found"):
        RekognitionService(region="us-east-1", profile="nope")


def test_missing_boto3_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'feelinvideo\[aws\]'") as info:
        RekognitionService()
    assert str(info.value).startswith("the rekognition backend needs boto3")


def test_importing_the_package_does_not_import_boto3():
    code = "import feelinvideo.backends.rekognition, sys; print('boto3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_map_ordered_keeps_order_and_raises_the_first_error():
    assert map_ordered(lambda x: x * x, range(10), workers=4) == [x * x for x in range(10)]
    assert map_ordered(str, [], workers=4) == []

    def fail_on_3(x):
        if x == 3:
            raise ValueError("three")
        return x

    with pytest.raises(ValueError, match="three"):
        map_ordered(fail_on_3, range(8), workers=4)
