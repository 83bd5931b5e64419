"""The Ray engine's connection (issue 26): a cluster that cannot be reached gives one
``Error:`` line, exit 1, and leaves --out as it was, with none of Ray's own log lines on
stderr; addresses are read as Ray reads them. How long giving up takes is measured by
``python bench/bench_ray_connect.py``, not asserted here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from conftest import ROOT, data_file

from feelinvideo.engines.ray import address_endpoint, check_reachable, connect_timeout_s
from feelinvideo.errors import FeelinvideoError, OptionError


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _analyze(out, address: str, **env: str) -> subprocess.CompletedProcess:
    video = data_file("fer/test.mp4")
    return subprocess.run(
        [sys.executable, "-m", "feelinvideo", "analyze", str(video), "--out", str(out)]
        + ["--engine", "ray", "--address", address, "--no-video"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), **env),
        timeout=600,  # a hang guard only: Ray alone retries for minutes
    )


def _lines(stderr: str) -> list[str]:
    """stderr's lines, progress bars left out."""
    lines = [p.strip() for p in stderr.replace("\r", "\n").splitlines()]
    return [line for line in lines if line and not line.startswith("analysing:")]


def test_an_address_nobody_listens_on_is_one_error_line_and_out_stays_untouched(tmp_path):
    pytest.importorskip("ray")
    port = _closed_port()
    out = tmp_path / "out"
    out.mkdir()
    (out / "faces.csv").write_text("earlier run\n")
    done = _analyze(out, f"127.0.0.1:{port}")
    assert done.returncode == 1, done.stderr
    assert _lines(done.stderr) == [
        f"Error: cannot reach the Ray cluster at 127.0.0.1:{port}: connection refused"
    ]
    assert [p.name for p in out.iterdir()] == ["faces.csv"]
    assert (out / "faces.csv").read_text() == "earlier run\n"
    new = tmp_path / "new"
    done = _analyze(new, f"127.0.0.1:{port}")
    assert done.returncode == 1 and not new.exists()


def test_an_address_that_never_answers_as_ray_gives_up_at_the_timeout(tmp_path):
    """A port that accepts connections but is no Ray: the connection is given up after
    FEELINVIDEO_RAY_TIMEOUT seconds, Ray's own retry messages (every 5 s) kept off stderr."""
    pytest.importorskip("ray")
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        out = tmp_path / "out"
        done = _analyze(out, f"127.0.0.1:{port}", FEELINVIDEO_RAY_TIMEOUT="7")
    assert done.returncode == 1, done.stderr
    assert _lines(done.stderr) == [
        f"Error: cannot reach the Ray cluster at 127.0.0.1:{port}: Ray did not connect within 7 s"
    ]
    assert not out.exists()


def test_addresses_are_read_as_ray_reads_them():
    assert address_endpoint("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert address_endpoint("head.local") == ("head.local", 6379)
    assert address_endpoint("ray://head.local") == ("head.local", 10001)
    assert address_endpoint("ray://head.local:25001") == ("head.local", 25001)
    assert address_endpoint("[::1]:6380") == ("::1", 6380)
    assert address_endpoint("auto") is None and address_endpoint("local") is None
    with pytest.raises(FeelinvideoError, match="expected HOST:PORT"):
        address_endpoint("head.local:port")


def test_the_check_itself_names_the_address_and_what_went_wrong():
    port = _closed_port()
    with pytest.raises(FeelinvideoError, match=rf"^cannot reach the Ray cluster at .*:{port}: "):
        check_reachable(f"127.0.0.1:{port}", timeout_s=5)
    check_reachable("auto")  # left to Ray


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("FEELINVIDEO_RAY_TIMEOUT", raising=False)
    assert connect_timeout_s() == 30.0
    monkeypatch.setenv("FEELINVIDEO_RAY_TIMEOUT", "4.5")
    assert connect_timeout_s() == 4.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        monkeypatch.setenv("FEELINVIDEO_RAY_TIMEOUT", bad)
        with pytest.raises(OptionError, match="FEELINVIDEO_RAY_TIMEOUT"):
            connect_timeout_s()
