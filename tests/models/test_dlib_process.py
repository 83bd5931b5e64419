"""The dlib encoder child process: same descriptors as in-process, and a fallback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import data_file

from feelinvideo.models.dlib import chip_encodings, face_chips
from feelinvideo.models.dlib_process import EncoderProcess


@pytest.fixture(scope="module")
def chips():
    import av

    with av.open(str(data_file("fer/woman2.mp4"))) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24")
    return face_chips(image, np.array([[230.0, 40.0, 360.0, 200.0], [200.0, 20.0, 380.0, 230.0]]))


def test_child_gives_the_in_process_descriptors(chips):
    encoder = EncoderProcess()
    try:
        encoder.start()
        got = encoder.encode(chips)
        assert encoder._child is not None and encoder._child.poll() is None  # it ran there
        np.testing.assert_array_equal(got, chip_encodings(chips))
        assert got.shape == (2, 128) and got.dtype == np.float64
        assert encoder.encode(chips[:0]).shape == (0, 128)
    finally:
        encoder.close()
    assert encoder._child is None


def test_a_dead_child_falls_back_to_this_process(chips):
    encoder = EncoderProcess()
    encoder.start()
    encoder._child.kill()
    encoder._child.wait()
    np.testing.assert_array_equal(encoder.encode(chips), chip_encodings(chips))
    assert encoder._child is None and encoder._failed
    encoder.close()


def test_a_script_without_main_guard_is_not_run_again(tmp_path, chips):
    """The child never imports the caller's script (multiprocessing's spawn would)."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "user_script.py"
    np.save(tmp_path / "chips.npy", chips)
    script.write_text(
        "import numpy as np\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "from feelinvideo.models.dlib_process import encoder_process\n"
        f"print(encoder_process.encode(np.load({str(tmp_path / 'chips.npy')!r})).shape)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 128)"
    assert marker.read_text() == "run\n"
