"""Bad input through the CLI: one line on stderr naming the file, exit 1, nothing half written."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from conftest import data_file, small_disk


def check_error(result, name: str, out: Path | None = None, words: tuple[str, ...] = ()):
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert name in lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
    if out is not None and out.exists():
        assert not (out / "faces.csv").exists()
        assert not (out / "overlay.mp4").exists()
        assert not list(out.glob("*.part*"))


def test_missing_file(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("analyze", tmp_path / "nope.mp4", "--out", out, "-q")
    check_error(result, "nope.mp4", out, ("no such file",))
    assert not out.exists()


def test_directory(cli, tmp_path):
    result = cli("analyze", tmp_path, "--out", tmp_path / "out", "-q")
    check_error(result, str(tmp_path), words=("directory",))


def test_empty_file(cli, tmp_path):
    video = tmp_path / "empty.mp4"
    video.touch()
    check_error(cli("analyze", video, "-q"), "empty.mp4", words=("empty",))


def test_text_file_named_mp4(cli, tmp_path):
    video = tmp_path / "notes.mp4"
    video.write_text("these are lecture notes, not a video\n" * 20)
    out = tmp_path / "out"
    check_error(
        cli("analyze", video, "--out", out, "-q"), "notes.mp4", out, ("not a readable video",)
    )


def test_truncated_video_moov_at_end(cli, tmp_path):
    source = data_file("fer/woman2.mp4")
    video = tmp_path / "cut.mp4"
    video.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    out = tmp_path / "out"
    check_error(cli("analyze", video, "--out", out, "-q"), "cut.mp4", out, ("truncated",))


def faststart_copy(source, whole):
    """``source``'s video stream copied into a streamable MP4 (index first) at ``whole``."""
    with (
        av.open(str(source)) as inp,
        av.open(str(whole), "w", options={"movflags": "+faststart"}) as outp,
    ):
        vin = inp.streams.video[0]
        vout = outp.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is not None:
                packet.stream = vout
                outp.mux(packet)
    return whole


def test_truncated_video_faststart(cli, tmp_path):
    """A streamable MP4 (index first) cut in half: it opens, then the frames stop early."""
    source = data_file("fer/woman2.mp4")
    whole = faststart_copy(source, tmp_path / "faststart.mp4")
    video = tmp_path / "cut_faststart.mp4"
    video.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out"
    check_error(cli("analyze", video, "--out", out, "-q"), "cut_faststart.mp4", out, ("truncated",))
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_out(cli, tmp_path):
    video = data_file("fer/test.mp4")
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "results"
    check_error(cli("analyze", video, "--out", out, "-q"), str(out), words=("output folder",))


def test_out_is_a_file(cli, tmp_path):
    video = data_file("fer/test.mp4")
    out = tmp_path / "taken"
    out.write_text("x")
    check_error(cli("analyze", video, "--out", out, "-q"), str(out), words=("not a folder",))


def test_bad_option_value(cli, tmp_path):
    result = cli("analyze", tmp_path / "x.mp4", "--every", "-1")
    assert result.exit_code == 2
    assert "--every" in result.stderr


def test_version_and_help(cli):
    from feelinvideo import __version__

    version = cli("--version")
    assert version.exit_code == 0 and __version__ in version.stdout
    helped = cli("analyze", "-h")
    assert helped.exit_code == 0
    for option in ("--every", "--min-face", "--out", "--no-video", "--quiet", "Examples"):
        assert option in helped.stdout


@pytest.mark.parametrize(
    "module", ["feelinvideo", "feelinvideo.cli", "feelinvideo.stream", "feelinvideo.runs.driver"]
)
def test_no_heavy_import(module):
    """Importing the package or the CLI loads neither TensorFlow, dlib nor boto3."""
    import subprocess
    import sys

    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('tensorflow', 'dlib', 'boto3', 'keras', 'mtcnn') "
        "if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("signum", "code"), [(2, 130), (15, 143)])
def test_signals_exit_cleanly_and_leave_no_files(tmp_path, signum, code):
    """Ctrl-C (SIGINT) and SIGTERM while analysing: exit 130 / 143, nothing left behind,
    an earlier run's files unchanged."""
    import signal
    import subprocess
    import sys
    import time

    video = data_file("fer/woman2.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "faces.csv").write_text("earlier run\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "feelinvideo",
            "analyze",
            str(video),
            "--out",
            str(out),
            "--every",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job starts with SIGINT ignored (POSIX), and Python keeps an
        # inherited SIG_IGN: give the child the default, as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = ""
    deadline = time.monotonic() + 300
    while "analysing" not in seen and time.monotonic() < deadline:  # the run has started
        seen += proc.stderr.read(1)
    proc.send_signal(signum)
    rest = proc.communicate(timeout=300)[1]
    assert proc.returncode == code, seen + rest
    assert "Traceback" not in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left
    assert [p.name for p in out.iterdir()] == ["faces.csv"]
    assert (out / "faces.csv").read_text() == "earlier run\n"


def test_too_many_windows_is_a_usage_error_before_any_work(cli, tmp_path):
    video = data_file("fer/test.mp4")  # 4.6 s
    result = cli("analyze", video, "--window", "1e-6", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "at most 10,000" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    for bad in ("nan", "inf", "-1"):
        result = cli("analyze", video, "--every", bad, "--out", tmp_path / "out")
        assert result.exit_code == 2, bad
        result = cli("report", tmp_path, "--window", bad)
        assert result.exit_code == 2, bad


def test_mildly_truncated_video_is_analysed_with_a_warning(cli, tmp_path):
    """A streamable MP4 cut at 85% of its bytes: frames stop about 2 s early. The faces up
    to there are analysed; stderr and summary.json say the file may be truncated."""
    import json

    source = data_file("fer/woman2.mp4")
    whole = faststart_copy(source, tmp_path / "faststart.mp4")
    video = tmp_path / "cut.mp4"
    video.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.85)])
    out = tmp_path / "out"
    result = cli("analyze", video, "--out", out, "-q", "--no-video", "--no-identity")
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.stderr and "may be truncated" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["warnings"]) == 1 and "frames stop at" in summary["warnings"][0]
    assert summary["faces"] >= 8


def test_full_disk_is_one_line_and_leaves_nothing(cli, tmp_path):
    """A 200 KB tmpfs fills while the overlay is written (needs root to mount; skipped
    otherwise)."""
    with small_disk(tmp_path / "small", "200k") as disk:
        result = cli("analyze", data_file("fer/test.mp4"), "--out", disk / "out", "-q")
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr
        assert lines[0].startswith(f"Error: {disk / 'out'}")
        assert list(disk.iterdir()) == []


def test_fifo_and_symlink_loop_get_their_own_messages(cli, tmp_path):
    import os

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(tmp_path / "loop.mp4")
    for path, message in ((fifo, "not a regular file"), (loop, "symbolic link that leads nowhere")):
        result = cli("analyze", path, "--out", tmp_path / "out")
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: {path}: ")
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_mp3_with_cover_art_is_not_a_video(cli, tmp_path):
    """An mp3's cover art is a one-frame 'video' stream flagged attached_pic (made here with
    the ffmpeg binary, which the product itself never needs)."""
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg binary to make an mp3 with cover art (apt-get install ffmpeg)")
    song = tmp_path / "song.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-i",
            str(data_file("fer/justin.jpg")),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "mjpeg",
            "-disposition:v",
            "attached_pic",
            str(song),
        ],
        check=True,
    )
    result = cli("analyze", song, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {song}: holds only cover art, expected a video"


def test_collection_excludes_the_local_gallery_options(cli, tmp_path):
    video = data_file("fer/test.mp4")
    for flag in (["--gallery", str(tmp_path / "g.sqlite")], ["--no-gallery"], ["--no-identity"]):
        result = cli("analyze", video, "--backend", "rekognition", "--collection", "c", *flag)
        assert result.exit_code == 2
        assert f"--collection and {flag[0]} exclude each other" in result.stderr
    result = cli("analyze", video, "--backend", "rekognition", "--face-match-threshold", "80")
    assert result.exit_code == 2 and "--face-match-threshold needs --collection" in result.stderr
