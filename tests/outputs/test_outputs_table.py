"""The faces.csv table and the run summary, built from synthetic Faces (no models)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feelinvideo.faces import Faces
from feelinvideo.outputs.summary import (
    emotion_totals,
    group_totals,
    mark_reliable,
    run_summary,
    time_windows,
)
from feelinvideo.outputs.table import faces_table, safe_for_csv
from feelinvideo.schema import (
    EMOTION_SIZE_COLUMNS,
    EMOTIONS,
    FACE_COLUMNS,
    IDENTITY_COLUMNS,
    SMOOTHED_COLUMNS,
)
from feelinvideo.video import VideoInfo


def samples():
    happy, sad = np.eye(7)[3], np.eye(7)[4]
    one = Faces(
        [[10.04, 20, 50, 60]],
        [0.91234],
        [happy * 0.9 + 0.1 / 7],
        tracker_id=[0],
        person=["ada"],
        match_distance=[0.31234],
    )
    none = Faces.empty()
    two = Faces(
        [[10, 20, 50, 60], [100, 20, 150, 70]],
        [0.9, 0.8],
        [happy, sad],
        tracker_id=[0, 1],
        person=["ada", "=SUM(1+1)"],
        data={"rek_similarity": np.array([99.5, np.nan])},
    )
    return [(0, 0.0, one), (30, 1.0, none), (60, 2.0004, two)]


def test_one_row_per_face_in_the_documented_columns():
    df = faces_table(samples(), identity=True, data_columns=("rek_person",))
    assert list(df.columns) == [
        *FACE_COLUMNS,
        *IDENTITY_COLUMNS,
        *SMOOTHED_COLUMNS,
        *EMOTION_SIZE_COLUMNS,
        "rek_person",
        "rek_similarity",
    ]
    assert df["smoothed_happy"].isna().all()  # these Faces were never smoothed
    assert df["frame_index"].tolist() == [0, 60, 60]
    assert df["face_index"].tolist() == [0, 0, 1]
    assert df["timestamp_s"].tolist() == [0.0, 2.0, 2.0]
    assert df["time"].tolist() == ["00:00:00.000", "00:00:02.000", "00:00:02.000"]
    assert df["x_min"].tolist() == [10.0, 10.0, 100.0]
    assert df["detection_confidence"].iloc[0] == 0.9123
    assert df["dominant_emotion"].tolist() == ["happy", "happy", "sad"]
    assert df["track_id"].tolist() == [0, 0, 1]
    assert df["match_distance"].iloc[0] == 0.3123 and df["match_distance"].isna().sum() == 2
    assert df["rek_person"].isna().all()  # declared, never given: present and empty
    assert np.allclose(df[list(EMOTIONS)].sum(axis=1), 1.0, atol=1e-3)


def test_without_identity_and_without_faces():
    df = faces_table([(0, 0.0, Faces.empty())], identity=False)
    assert list(df.columns) == list(FACE_COLUMNS + EMOTION_SIZE_COLUMNS) and len(df) == 0


def test_safe_for_csv_defuses_formulas_only_in_text():
    df = faces_table(samples(), identity=True)
    safe = safe_for_csv(df)
    assert safe["person"].tolist() == ["ada", "ada", "'=SUM(1+1)"]
    assert safe["x_min"].tolist() == df["x_min"].tolist()
    assert df["person"].iloc[2] == "=SUM(1+1)"  # the table itself keeps the name


def test_summary_totals_and_windows_from_the_table():
    df = faces_table(samples(), identity=True)
    info = VideoInfo("v.mp4", 640, 360, 30.0, 4.5, 135, "h264")
    summary = run_summary(df, info, sampled_frames=3, backend="local", every_s=1.0, window_s=2.0)
    assert summary["faces"] == 3 and summary["frames_with_faces"] == 2
    assert summary["sampled_frames"] == 3
    assert summary["dominant_share"]["happy"] == 2 / 3
    assert summary["verdict"] == "interested"
    assert [(w["start_s"], w["end_s"], w["faces"]) for w in summary["windows"]] == [
        (0.0, 2.0, 1),
        (2.0, 4.0, 2),
        (4.0, 4.5, 0),
    ]
    assert emotion_totals(df.iloc[:0])["verdict"] == "neutral"
    assert time_windows(pd.DataFrame(columns=df.columns), 10.0, 0.0)[0]["faces"] == 0


def test_smoother_follows_video_time_per_track():
    from feelinvideo.identity.smoothing import EmotionSmoother

    happy, sad = np.eye(7)[3], np.eye(7)[4]
    smoother = EmotionSmoother(tau_s=1.0)
    first = smoother.update(0.0, Faces([[0, 0, 9, 9]], [1.0], [happy], tracker_id=[0]))
    assert first.smoothed_scores[0].tolist() == happy.tolist()
    # one time constant later the average has moved 1 - 1/e of the way to the new scores
    later = smoother.update(
        1.0, Faces([[0, 0, 9, 9], [20, 0, 29, 9]], [1, 1], [sad, sad], tracker_id=[0, 1])
    )
    assert later.smoothed_scores[0, 4] == pytest.approx(1 - np.exp(-1), abs=1e-6)
    assert later.smoothed_scores[0].sum() == pytest.approx(1.0, abs=1e-6)
    assert later.smoothed_scores[1].tolist() == sad.tolist()  # a new track starts raw
    assert later.display_scores[0, 3] == pytest.approx(np.exp(-1), abs=1e-6)
    raw = EmotionSmoother(tau_s=0).update(5.0, Faces([[0, 0, 9, 9]], [1], [sad], tracker_id=[0]))
    assert raw.smoothed_scores[0].tolist() == sad.tolist()


def test_small_faces_are_flagged_and_left_out_of_the_emotions_not_hidden():
    # ada's 40x40 faces are counted at 40 px; the 50x50 sad face only when the threshold
    # is at most 50; with 45 px the sad face is flagged and the sums hold ada's faces only
    df = faces_table(samples(), identity=True, min_emotion_face_px=45)
    assert df["face_px"].tolist() == [40.0, 40.0, 50.0]
    assert df["emotion_reliable"].tolist() == [False, False, True]
    info = VideoInfo("v.mp4", 640, 360, 30.0, 4.5, 135, "h264")
    summary = run_summary(df, info, 3, "local", 1.0, 2.0, min_emotion_face_px=45)
    assert summary["faces"] == 3 and summary["emotion_faces"] == 1
    assert summary["small_faces"] == 2 and summary["min_emotion_face_px"] == 45
    assert summary["dominant_emotion"] == "sad" and summary["verdict"] == "not interested"
    assert summary["dominant_share"]["sad"] == 1.0
    windows = summary["windows"]
    assert [(w["faces"], w["emotion_faces"]) for w in windows] == [(1, 0), (2, 1), (0, 0)]
    assert windows[0]["dominant_emotion"] is None and windows[0]["verdict"] == "neutral"
    every = faces_table(samples(), identity=True, min_emotion_face_px=0)
    assert every["emotion_reliable"].all()
    assert emotion_totals(every)["verdict"] == "interested"  # two happy faces, one sad
    assert emotion_totals(every)["emotion_faces"] == 3
    people = group_totals(df, "person")
    assert people.loc["ada", "faces"] == 2 and people.loc["ada", "emotion_faces"] == 0
    assert people.loc["=SUM(1+1)", "emotion_faces"] == 1
    assert people.loc["=SUM(1+1)", "dominant_emotion"] == "sad"
    small = group_totals(faces_table(samples(), min_emotion_face_px=60), "person")
    assert pd.isna(small.loc["ada", "dominant_emotion"])
    assert small.loc["ada", "mean_happy"] == 0.0 and small.loc["ada", "verdict"] == "neutral"


def test_mark_reliable_reads_face_px_or_the_box():
    df = faces_table(samples(), identity=False)
    boxes_only = df.drop(columns=["face_px", "emotion_reliable"])
    marked = mark_reliable(boxes_only, 45)
    assert marked["face_px"].tolist() == [40.0, 40.0, 50.0]
    assert marked["emotion_reliable"].tolist() == [False, False, True]
    assert mark_reliable(df.assign(face_px=[99.0, 1.0, 1.0]), 45)["emotion_reliable"].tolist() == [
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="min_emotion_face_px"):
        mark_reliable(df, -1)
