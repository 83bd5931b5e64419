"""report.tables: class summary, attendance and time windows on small synthetic runs."""

from __future__ import annotations

import pandas as pd
import pytest
from report_data import face_rows, synthetic_faces, write_run

from feelinvideo.outputs.summary import emotion_totals, group_totals, weighted_dominant
from feelinvideo.outputs.table import safe_for_csv
from feelinvideo.report import class_summary, load_runs
from feelinvideo.report.tables import (
    CLASS_SUMMARY_COLUMNS,
    WINDOW_COLUMNS,
    attendance_table,
    person_order,
    window_table,
)
from feelinvideo.schema import EMOTIONS, FACE_COLUMNS


@pytest.fixture
def two_runs(tmp_path):
    """Two tiny runs: ann in both, bob and two unknowns in the first, one unknown in the second."""
    first = face_rows(
        (0, 0.0, "ann", "happy", 0.9),
        (0, 0.0, "bob", "sad", 0.8),
        (10, 1.0, "ann", "happy", 0.7),
        (10, 1.0, "ann", "sad", 0.6),  # a second ann in the same frame counts once
        (10, 1.0, "unknown-2", "fear", 0.5),
        (20, 2.5, "unknown-10", "angry", 0.5),
    )
    second = face_rows(
        (0, 0.0, "ann", "sad", 0.9),
        (30, 3.0, "unknown-1", "neutral", 1.0),
    )
    write_run(tmp_path / "lec1", first, duration_s=4.0)
    write_run(tmp_path / "lec2", second, duration_s=3.0)
    return load_runs([tmp_path / "lec1", tmp_path / "lec2"])


def test_class_summary_on_known_numbers(two_runs):
    table = class_summary(two_runs)
    assert list(table.columns) == list(CLASS_SUMMARY_COLUMNS)
    assert list(table["person"]) == [
        "ann",
        "bob",
        "lec1:unknown-2",
        "lec1:unknown-10",
        "lec2:unknown-1",
    ]
    ann = table.set_index("person").loc["ann"]
    assert ann["videos"] == 2 and ann["attended"] == 3
    assert ann["sum_happy"] == pytest.approx(1.6) and ann["sum_sad"] == pytest.approx(1.5)
    assert ann["mean_happy"] == pytest.approx(1.6 / 4)
    assert ann["positive"] == pytest.approx(1.6) and ann["negative"] == pytest.approx(1.5)
    # 1.6 vs 1.5 over 4 faces: within the default margin (0.15 x 4), so too close to call
    assert ann["verdict"] == "neutral" and ann["dominant_emotion"] == "happy"
    strict = class_summary(two_runs, margin=0.0).set_index("person")
    assert strict.loc["ann", "verdict"] == "interested"
    # no every_s in summary.json: a frame stands for the median step between the run's
    # sampled times (lec1: 0, 1, 2.5 s -> 1.25 s; lec2: 0, 3 s -> 3 s)
    assert ann["minutes"] == pytest.approx((2 * 1.25 + 3.0) / 60)
    bob = table.set_index("person").loc["bob"]
    assert (bob["videos"], bob["attended"], bob["verdict"]) == (1, 1, "not interested")
    assert bob["dominant_emotion"] == "sad"
    assert table["videos"].dtype.kind == "i" and table["attended"].dtype.kind == "i"


def test_class_summary_matches_the_csv_sums(tmp_path):
    df = synthetic_faces(12, ["a", "b", "unknown-1"], seed=4)
    runs = load_runs([write_run(tmp_path / "r", df)])
    table = class_summary(runs).set_index("person")
    df["person"] = df["person"].where(df["person"] != "unknown-1", "r:unknown-1")
    for person, part in df.groupby("person"):
        row = table.loc[person]
        for e in EMOTIONS:
            assert row[f"sum_{e}"] == pytest.approx(part[e].sum())
            assert row[f"mean_{e}"] == pytest.approx(part[e].mean())
        assert row["dominant_emotion"] == weighted_dominant(part)
        assert row["attended"] == part["frame_index"].nunique()


def test_person_order():
    people = ["b:unknown-1", "zed", "a:unknown-10", "Amy", "a:unknown-2", "bob", "x:unknown-1"]
    assert person_order(people, ["a", "b"]) == [
        "Amy",
        "bob",
        "x:unknown-1",  # not a video of the report: sorted as a name
        "zed",
        "a:unknown-2",
        "a:unknown-10",
        "b:unknown-1",
    ]


def test_attendance_table(two_runs):
    people = list(class_summary(two_runs)["person"])
    table = attendance_table(two_runs, people)
    assert list(table.columns) == ["lec1", "lec2"] and list(table.index) == people
    assert table.loc["ann"].tolist() == [2, 1]
    assert table.loc["lec2:unknown-1"].tolist() == [0, 1]
    assert table.loc["lec1:unknown-10"].tolist() == [1, 0]
    assert table.to_numpy().dtype.kind == "i"


def test_window_table_on_known_numbers(two_runs):
    windows = window_table(two_runs, 1.5)
    assert list(windows.columns) == list(WINDOW_COLUMNS)
    lec1 = windows[windows["video"] == "lec1"]
    assert lec1["window"].tolist() == [1, 2, 3]
    assert lec1["start_s"].tolist() == [0.0, 1.5, 3.0]
    assert lec1["end_s"].tolist() == [1.5, 3.0, 4.0]  # the last window is shorter
    assert lec1["start"].tolist() == ["00:00:00", "00:00:01.500", "00:00:03"]
    assert lec1["end"].tolist() == ["00:00:01.500", "00:00:03", "00:00:04"]
    assert lec1["faces"].tolist() == [5, 1, 0]
    assert lec1["frames"].tolist() == [2, 1, 0]
    assert lec1["people"].tolist() == [3, 1, 0]
    first = lec1.iloc[0]
    assert first["mean_happy"] == pytest.approx((0.9 + 0.7) / 5)
    empty = lec1.iloc[2]
    assert empty["dominant_emotion"] == "" and empty["verdict"] == "neutral"
    assert all(empty[f"mean_{e}"] == 0 for e in EMOTIONS)
    lec2 = windows[windows["video"] == "lec2"]
    assert lec2["end_s"].tolist() == [1.5, 3.0]
    assert lec2["faces"].tolist() == [1, 1]  # a face at the very end falls in the last window


def test_window_table_rejects_bad_windows(two_runs):
    with pytest.raises(ValueError, match="window_s must be > 0"):
        window_table(two_runs, 0)


def test_tables_without_faces(tmp_path):
    path = tmp_path / "empty_run" / "faces.csv"
    path.parent.mkdir()
    path.write_text(",".join(FACE_COLUMNS) + "\n")
    runs = load_runs([path])
    assert class_summary(runs).empty
    assert list(class_summary(runs).columns) == list(CLASS_SUMMARY_COLUMNS)
    assert attendance_table(runs, []).shape == (0, 1)
    windows = window_table(runs, 60)
    assert windows["faces"].tolist() == [0] and windows["end_s"].tolist() == [60.0]


def test_safe_for_csv_defuses_text_only():
    df = pd.DataFrame(
        {"person": ["=1+1", "+x", "-y", "@z", "\tt", "plain", "a=b"], "n": [-1, 2, 3, 4, 5, 6, 7]}
    )
    safe = safe_for_csv(df)
    assert safe["person"].tolist() == ["'=1+1", "'+x", "'-y", "'@z", "'\tt", "plain", "a=b"]
    assert safe["n"].tolist() == df["n"].tolist()
    assert df["person"].iloc[0] == "=1+1"  # the input is not changed


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
