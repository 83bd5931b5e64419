"""dlib's descriptor network read from its .dat and run in OpenCV: dlib-bin's descriptors
on real chips, clear errors on damaged files, dlib's binding as the fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.errors import BackendError
from feelinvideo.models import dlib as dlib_models
from feelinvideo.models.dlib import DlibBinding, _load_encoder, _model_path, face_chips
from feelinvideo.models.dlib_resnet import DescriptorNetwork, read_network

PHOTOS = [
    "face_recognition/knn_examples/train/obama/obama.jpg",
    "face_recognition/knn_examples/train/biden/biden.jpg",
    "face_recognition/knn_examples/train/kit_harington/john1.jpeg",
    "face_recognition/knn_examples/train/rose_leslie/img2.jpg",
    "face_recognition/knn_examples/train/alex_lacamoire/img1.jpg",
    "face_recognition/knn_examples/test/kit_with_rose.jpg",
    "face_recognition/knn_examples/test/obama_and_biden.jpg",
    "face_recognition/two_people.jpg",
]


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Aligned chips of every face dlib's HOG detector finds in real photos."""
    import dlib

    from feelinvideo.galleries.enroll import load_photo

    detector = dlib.get_frontal_face_detector()
    out = []
    for relative in PHOTOS:
        image = load_photo(data_file(relative))
        boxes = [[r.left(), r.top(), r.right(), r.bottom()] for r in detector(image, 1)]
        out.append(face_chips(image, np.array(boxes, np.float64).reshape(-1, 4)))
    got = np.concatenate(out)
    assert len(got) >= 10
    return got


@pytest.fixture(scope="module")
def network() -> DescriptorNetwork:
    return DescriptorNetwork(_model_path("encoder"))


@pytest.fixture(scope="module")
def reference(chips) -> np.ndarray:
    return DlibBinding().compute(chips)


def test_descriptors_match_dlib_bin(chips, network, reference):
    got = network.compute(chips)
    assert got.shape == (len(chips), 128) and got.dtype == np.float64
    assert np.abs(got - reference).max() <= 1e-5
    ours = np.linalg.norm(got[:, None] - got[None], axis=-1)
    theirs = np.linalg.norm(reference[:, None] - reference[None], axis=-1)
    assert np.abs(ours - theirs).max() <= 1e-4
    # different people really are apart: the comparison is not between near-equal vectors
    assert theirs[~np.eye(len(chips), dtype=bool)].max() > 0.6


def test_batch_size_does_not_change_descriptors(chips, network):
    one_by_one = np.concatenate([network.compute(c[None]) for c in chips[:5]])
    np.testing.assert_allclose(network.compute(chips[:5], batch=3), one_by_one, atol=1e-6)
    assert network.compute(chips[:0]).shape == (0, 128)
    with pytest.raises(ValueError, match="150, 150, 3"):
        network.compute(chips[:, :100])


def test_chip_encodings_runs_the_opencv_network(chips, network):
    assert isinstance(dlib_models._model("encoder"), DescriptorNetwork)
    np.testing.assert_allclose(dlib_models.chip_encodings(chips), network.compute(chips))
    assert dlib_models.chip_encodings(chips[:0]).shape == (0, 128)


def test_the_file_gives_the_architecture():
    network = read_network(_model_path("encoder"))
    assert network.mean == pytest.approx([122.782, 117.001, 104.298], abs=1e-3)
    assert (network.stem.size, network.stem.stride, network.stem.padding) == (7, 2, 0)
    assert len(network.blocks) == 14  # 29 convolutions: the stem and two a block
    downs = [b for b in network.blocks if b.pool is not None]
    assert len(downs) == 4 and all(b.first.stride == 2 and b.first.padding == 0 for b in downs)
    assert network.fc.shape == (256, 128)


@pytest.fixture(scope="module")
def dat_bytes() -> bytes:
    with open(_model_path("encoder"), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.01, 300])
def test_a_cut_file_is_a_backend_error(tmp_path, dat_bytes, keep):
    path = tmp_path / "cut.dat"
    path.write_bytes(dat_bytes[: int(keep * len(dat_bytes)) if keep < 1 else keep])
    with pytest.raises(BackendError, match="cut.dat: not a readable dlib face descriptor"):
        read_network(path)
    with pytest.raises(BackendError, match="cut.dat"):  # dlib's binding cannot read it either
        _load_encoder(str(path))


def test_corrupt_files_are_backend_errors(tmp_path, dat_bytes):
    garbage = tmp_path / "garbage.dat"
    garbage.write_bytes(np.random.default_rng(0).bytes(100_000))
    with pytest.raises(BackendError, match="garbage.dat"):
        read_network(garbage)
    # the first convolution's tensor claims another size: its layout no longer adds up
    start = dat_bytes.index(b"\x01\x05con_4") + 7
    assert dat_bytes[start : start + 5] == b"\x01\x02\x02\x80\x12"  # version 2, n = 4736
    wrong = tmp_path / "wrong_size.dat"
    wrong.write_bytes(dat_bytes[: start + 3] + b"\x81" + dat_bytes[start + 4 :])
    with pytest.raises(BackendError, match="wrong_size.dat"):
        read_network(wrong)
    # a weight overwritten with NaN
    nan = tmp_path / "nan.dat"
    at = start + 11 + 400
    nan.write_bytes(dat_bytes[:at] + np.float32("nan").tobytes() + dat_bytes[at + 4 :])
    with pytest.raises(BackendError, match="nan.dat.*NaN"):
        read_network(nan)
    with pytest.raises(BackendError, match="missing.dat"):
        read_network(tmp_path / "missing.dat")


def test_dlib_binding_is_the_fallback_with_a_warning(monkeypatch, caplog, chips, reference):
    def unreadable(path):
        raise BackendError(f"{path}: not a readable dlib face descriptor network (test)")

    monkeypatch.setattr("feelinvideo.models.dlib_resnet.DescriptorNetwork", unreadable)
    with caplog.at_level(logging.WARNING, logger="feelinvideo.models.dlib"):
        encoder = _load_encoder(_model_path("encoder"))
    assert isinstance(encoder, DlibBinding)
    assert "running dlib's own binding instead" in caplog.text
    np.testing.assert_array_equal(encoder.compute(chips[:2]), reference[:2])
