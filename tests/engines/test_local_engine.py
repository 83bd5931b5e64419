"""The local engine prepares the OpenCV copies of the networks before its workers start."""

from __future__ import annotations

import os
import subprocess
import sys


def test_prepare_caches_makes_both_copies_once(tmp_path):
    env = {**os.environ, "FEELINVIDEO_CACHE": str(tmp_path)}
    code = (
        "import sys; from feelinvideo.engines.processes import prepare_caches; "
        "prepare_caches('mtcnn'); print('tensorflow' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    names = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.stdout.split() == ["True"], first.stderr[-500:]  # converted here
    assert names == ["fer", "mtcnn"]
    assert second.stdout.split() == ["False"], second.stderr[-500:]  # names checked only
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == names


def test_prepare_caches_for_yunet_leaves_mtcnn_alone(tmp_path):
    env = {**os.environ, "FEELINVIDEO_CACHE": str(tmp_path)}
    code = "from feelinvideo.engines.processes import prepare_caches; prepare_caches('yunet')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["fer"]
