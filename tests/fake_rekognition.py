"""A small fake Amazon Rekognition service on 127.0.0.1, for tests with the real boto3 client.

It speaks the service's wire protocol (``awsJson1_1``: ``POST /`` with ``X-Amz-Target:
RekognitionService.<Operation>`` and a JSON body; errors as HTTP 4xx/5xx with
``{"__type": code, "message": ...}``) and answers ``DetectFaces``, ``SearchFacesByImage``,
``IndexFaces``, ``CreateCollection``, ``ListFaces`` (paginated by ``NextToken``) and
``DeleteFaces`` with responses shaped like the documented ones (Amazon Rekognition API
reference, API version 2016-06-27). Image bytes are base64 in the JSON body, as botocore
sends them; they are decoded with OpenCV, so a non-image answers
``InvalidImageFormatException`` as the service does.

Detections are deterministic: every image gets :data:`DEFAULT_FACES` (ratios of the image,
one face past the bottom-left edge), or whatever a test puts in ``fake.faces``. Searches
match the first face indexed in the collection with ``fake.similarity``.

Usage::

    with FakeRekognition() as fake:          # started on a free port
        os.environ["AWS_ENDPOINT_URL"] = fake.url
        fake.fail("DetectFaces", "ThrottlingException", times=2)

or, in a pytest fixture, :func:`serve_fake` (isolated from any real AWS configuration).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

#: Two faces, as ``FaceDetail`` dicts with ratio boxes. The second one reaches past the left
#: and bottom edges (Left < 0, Top + Height > 1), as the service returns for cut faces.
DEFAULT_FACES: list[dict] = [
    {
        "BoundingBox": {"Width": 0.3, "Height": 0.5, "Left": 0.35, "Top": 0.2},
        "Confidence": 99.99,
        "Emotions": [
            {"Type": "HAPPY", "Confidence": 80.0},
            {"Type": "CALM", "Confidence": 10.0},
            {"Type": "CONFUSED", "Confidence": 5.0},
            {"Type": "SURPRISED", "Confidence": 2.0},
            {"Type": "SAD", "Confidence": 1.0},
            {"Type": "ANGRY", "Confidence": 0.5},
            {"Type": "DISGUSTED", "Confidence": 0.5},
            {"Type": "FEAR", "Confidence": 0.5},
            {"Type": "UNKNOWN", "Confidence": 0.5},
        ],
        "Landmarks": [
            {"Type": "eyeLeft", "X": 0.43, "Y": 0.35},
            {"Type": "eyeRight", "X": 0.57, "Y": 0.35},
            {"Type": "nose", "X": 0.5, "Y": 0.45},
            {"Type": "mouthLeft", "X": 0.45, "Y": 0.58},
            {"Type": "mouthRight", "X": 0.55, "Y": 0.58},
            {"Type": "leftPupil", "X": 0.43, "Y": 0.35},
            {"Type": "chinBottom", "X": 0.5, "Y": 0.69},
        ],
    },
    {
        "BoundingBox": {"Width": 0.25, "Height": 0.4, "Left": -0.1, "Top": 0.75},
        "Confidence": 91.5,
        "Emotions": [
            {"Type": "CALM", "Confidence": 60.0},
            {"Type": "SAD", "Confidence": 20.0},
            {"Type": "CONFUSED", "Confidence": 20.0},
        ],
        "Landmarks": [
            {"Type": "eyeLeft", "X": -0.02, "Y": 0.85},
            {"Type": "eyeRight", "X": 0.08, "Y": 0.85},
            {"Type": "nose", "X": 0.03, "Y": 0.93},
            {"Type": "mouthLeft", "X": 0.0, "Y": 1.02},
            {"Type": "mouthRight", "X": 0.07, "Y": 1.02},
        ],
    },
]

#: Environment variables through which a real AWS set-up could leak into a test.
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
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)

_EXTERNAL_ID = re.compile(r"[a-zA-Z0-9_.\-:]+")
_MAX_BYTES = 5 * 1024 * 1024
_MODEL = "7.0"


class FakeError(Exception):
    """An error answer: HTTP ``status`` with ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class FakeRekognition:
    """The fake service. Attributes tests may set or read:

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started.
        faces: ``FaceDetail`` dicts DetectFaces returns for every image.
        similarity: ``Similarity`` of search matches (0-100).
        delay_s: seconds each request waits before answering (to observe concurrency).
        list_page_size: most faces per ListFaces page (to exercise pagination).
        calls: (operation, request JSON without image bytes, image size (w, h) or None).
        collections: collection id -> list of indexed ``Face`` dicts.
        index_extra_faces: faces IndexFaces reports besides the indexed one
            (``UnindexedFaces`` with reason ``EXCEEDS_MAX_FACES``, as for a group photo).
        associated: face ids DeleteFaces refuses to delete (as for faces associated to a
            Rekognition user: ``ASSOCIATED_TO_AN_EXISTING_USER``).
        max_in_flight: most requests handled at the same time so far.
    """

    def __init__(self) -> None:
        self.faces: list[dict] = [dict(f) for f in DEFAULT_FACES]
        self.similarity = 99.1
        self.delay_s = 0.0
        self.list_page_size = 2
        self.calls: list[tuple[str, dict, tuple[int, int] | None]] = []
        self.collections: dict[str, list[dict]] = {}
        self.associated: set[str] = set()
        self.index_extra_faces = 0
        self.max_in_flight = 0
        self._in_flight = 0
        self._failures: dict[str, list[FakeError]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---------------------------------------------------------------- control

    def fail(self, operation: str, code: str, message: str = "", status: int = 400, times=1):
        """Answer the next ``times`` calls of ``operation`` with this error."""
        with self._lock:
            self._failures[operation].extend(
                [FakeError(code, message or f"fake {code}", status)] * times
            )

    def operations(self) -> list[str]:
        """Operations called so far, in order of arrival."""
        with self._lock:
            return [op for op, _, _ in self.calls]

    def start(self) -> FakeRekognition:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeRekognition:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- protocol

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            length = int(req.headers.get("Content-Length") or 0)
            body = req.rfile.read(length) if length else b""
            target = req.headers.get("X-Amz-Target", "")
            operation = target.split(".", 1)[1] if target.startswith("RekognitionService.") else ""
            try:
                status, payload = 200, self._dispatch(req, operation, body)
            except FakeError as exc:
                status, payload = exc.status, {"__type": exc.code, "message": exc.message}
            if self.delay_s:
                time.sleep(self.delay_s)
            data = json.dumps(payload).encode()
            req.send_response(status)
            req.send_header("Content-Type", "application/x-amz-json-1.1")
            req.send_header("Content-Length", str(len(data)))
            req.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            req.end_headers()
            req.wfile.write(data)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _dispatch(self, req, operation: str, body: bytes) -> dict:
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256"):
            raise FakeError("MissingAuthenticationTokenException", "Missing Authentication Token")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise FakeError("SerializationException", "body is not JSON") from None
        image = None
        if "Image" in params:
            image = self._image(params["Image"])
        logged = {k: v for k, v in params.items() if k != "Image"}
        with self._lock:
            self.calls.append(
                (operation, logged, image.shape[1::-1] if image is not None else None)
            )
            queued = self._failures.get(operation)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            raise failure
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise FakeError("UnknownOperationException", f"unknown operation {operation!r}")
        return handler(params, image)

    @staticmethod
    def _image(spec: dict) -> np.ndarray:
        if "Bytes" not in spec:
            raise FakeError("InvalidParameterException", "Request has invalid parameters")
        raw = base64.b64decode(spec["Bytes"])
        if len(raw) > _MAX_BYTES:
            raise FakeError("ImageTooLargeException", "Image size is too large.")
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise FakeError("InvalidImageFormatException", "Request has invalid image format")
        return image

    def _collection(self, params: dict) -> list[dict]:
        cid = params.get("CollectionId", "")
        if cid not in self.collections:
            raise FakeError("ResourceNotFoundException", f"The collection id: {cid} does not exist")
        return self.collections[cid]

    # ---------------------------------------------------------------- operations

    def _op_DetectFaces(self, params, image) -> dict:  # noqa: N802
        details = []
        for face in self.faces:
            face = dict(face)
            if "ALL" not in params.get("Attributes", ["DEFAULT"]):
                face.pop("Emotions", None)
            details.append(face)
        return {"FaceDetails": details}

    def _op_SearchFacesByImage(self, params, image) -> dict:  # noqa: N802
        faces = self._collection(params)
        threshold = float(params.get("FaceMatchThreshold", 80.0))
        matches = []
        if faces and self.similarity >= threshold:
            matches = [{"Similarity": self.similarity, "Face": faces[0]}]
        return {
            "SearchedFaceBoundingBox": {"Width": 0.6, "Height": 0.6, "Left": 0.2, "Top": 0.2},
            "SearchedFaceConfidence": 99.9,
            "FaceMatches": matches[: int(params.get("MaxFaces", 4096))],
            "FaceModelVersion": _MODEL,
        }

    def _op_IndexFaces(self, params, image) -> dict:  # noqa: N802
        faces = self._collection(params)
        external = params.get("ExternalImageId")
        if external is not None and (not _EXTERNAL_ID.fullmatch(external) or len(external) > 255):
            raise FakeError(
                "ValidationException",
                f"1 validation error detected: Value '{external}' at 'externalImageId' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z0-9_.\\-:]+",
            )
        if float(image.std()) < 2.0:  # a blank image: no face
            return {"FaceRecords": [], "UnindexedFaces": [], "FaceModelVersion": _MODEL}
        face = {
            "FaceId": str(uuid.uuid4()),
            "BoundingBox": {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2},
            "ImageId": str(uuid.uuid4()),
            "Confidence": 99.9,
            "IndexFacesModelVersion": _MODEL,
        }
        if external is not None:
            face["ExternalImageId"] = external
        with self._lock:
            faces.append(face)
        detail = {"BoundingBox": face["BoundingBox"], "Confidence": 99.9}
        extra = {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.8, "Top": 0.1}}
        return {
            "FaceRecords": [{"Face": face, "FaceDetail": detail}],
            "UnindexedFaces": [{"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": extra}]
            * self.index_extra_faces,
            "FaceModelVersion": _MODEL,
        }

    def _op_CreateCollection(self, params, image) -> dict:  # noqa: N802
        cid = params.get("CollectionId", "")
        with self._lock:
            if cid in self.collections:
                raise FakeError(
                    "ResourceAlreadyExistsException", f"The collection id: {cid} already exists"
                )
            self.collections[cid] = []
        return {
            "StatusCode": 200,
            "CollectionArn": f"aws:rekognition:us-east-1:123456789012:collection/{cid}",
            "FaceModelVersion": _MODEL,
        }

    def _op_DeleteCollection(self, params, image) -> dict:  # noqa: N802
        self._collection(params)
        with self._lock:
            del self.collections[params["CollectionId"]]
        return {"StatusCode": 200}

    def _op_ListFaces(self, params, image) -> dict:  # noqa: N802
        with self._lock:
            faces = list(self._collection(params))
        start = int(params.get("NextToken") or 0)
        size = min(int(params.get("MaxResults", 1000)), self.list_page_size)
        page = faces[start : start + size]
        out = {"Faces": page, "FaceModelVersion": _MODEL}
        if start + size < len(faces):
            out["NextToken"] = str(start + size)
        return out

    def _op_DeleteFaces(self, params, image) -> dict:  # noqa: N802
        faces = self._collection(params)
        ids = list(params.get("FaceIds") or [])
        if not 1 <= len(ids) <= 4096:
            raise FakeError(
                "ValidationException",
                f"1 validation error detected: Value at 'faceIds' failed to satisfy constraint: "
                f"Member must have length less than or equal to 4096 (got {len(ids)})",
            )
        deleted, unsuccessful = [], []
        with self._lock:
            present = {face["FaceId"] for face in faces}
            for face_id in ids:
                if face_id in self.associated:
                    unsuccessful.append(
                        {"FaceId": face_id, "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
                    )
                elif face_id in present:
                    deleted.append(face_id)
                    present.discard(face_id)
                else:
                    unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            gone = set(deleted)
            faces[:] = [face for face in faces if face["FaceId"] not in gone]
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}


# -------------------------------------------------------------------- test helpers


def isolate_aws(monkeypatch, tmp_path) -> None:
    """Hide any real AWS set-up from boto3: no AWS_* variables, no ``~/.aws`` files, no
    EC2 metadata service (``monkeypatch`` and ``tmp_path`` are pytest's fixtures)."""
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@contextmanager
def serve_fake(monkeypatch, tmp_path) -> Iterator[FakeRekognition]:
    """A started :class:`FakeRekognition` with the environment pointing boto3 at it: fake
    credentials, region us-east-1, ``AWS_ENDPOINT_URL`` = the fake's URL."""
    isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with FakeRekognition() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        yield server


def noise_frame(width: int = 596, height: int = 336, seed: int = 0) -> np.ndarray:
    """A random RGB uint8 frame (height, width, 3): any image will do for the fake."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
