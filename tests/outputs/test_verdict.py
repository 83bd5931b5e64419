"""The interest verdict (schema.verdict): one rule for a face, a window, a person, a video."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feelinvideo.outputs.summary import emotion_totals, group_totals, time_windows
from feelinvideo.schema import (
    DEFAULT_NEUTRAL_MARGIN,
    EMOTIONS,
    FACE_COLUMNS,
    check_margin,
    verdict,
    verdict_reason,
)


def faces(*scores: dict, every_s: float = 1.0) -> pd.DataFrame:
    """A faces.csv table, one face per sampled frame, from partial score dicts (the rest of
    each face's score goes to neutral)."""
    rows = []
    for i, given in enumerate(scores):
        s = dict.fromkeys(EMOTIONS, 0.0) | given
        s["neutral"] += 1.0 - sum(s.values())
        rows.append(
            [i, i * every_s, "", 0, 0.0, 0.0, 10.0, 10.0, 1.0]
            + [s[e] for e in EMOTIONS]
            + [max(s, key=s.get)]
        )
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS))


CALM = {"neutral": 0.52, "sad": 0.2, "fear": 0.1, "angry": 0.12, "happy": 0.06}
HAPPY = {"happy": 0.8, "neutral": 0.15, "sad": 0.05}
SAD = {"sad": 0.7, "fear": 0.1, "neutral": 0.15, "happy": 0.05}


def test_mostly_neutral_faces_read_neutral():
    # the seed's rule read these "not interested": 0.06 positive vs 0.42 negative per face
    calm = faces(*[CALM] * 10)
    totals = emotion_totals(calm)
    assert totals["negative"] > totals["positive"] + 3
    assert totals["dominant_emotion"] == "neutral" and totals["verdict"] == "neutral"


def test_mostly_happy_reads_interested_and_mostly_sad_not():
    assert emotion_totals(faces(*[HAPPY] * 6, CALM, CALM))["verdict"] == "interested"
    assert emotion_totals(faces(*[SAD] * 6, CALM, CALM))["verdict"] == "not interested"


def test_too_close_to_call_is_neutral_within_the_margin():
    close = faces({"happy": 0.45, "sad": 0.4}, {"happy": 0.4, "fear": 0.45})
    p, n = 0.85, 0.85
    assert verdict(p, n, 2, "happy") == "neutral"
    assert verdict(0.85, 0.6, 2, "happy") == "neutral"  # 0.125 per face: within 0.15
    assert verdict(0.9, 0.6, 2, "happy", margin=0.1) == "interested"
    assert verdict(0.6, 0.9, 2, "sad", margin=0.0) == "not interested"
    assert emotion_totals(close)["verdict"] == "neutral"
    # the margin scales with the faces: the same per-face gap over 100 faces is as close
    assert verdict(90.0, 76.0, 100, "happy") == "neutral"
    assert verdict(90.0, 70.0, 100, "happy") == "interested"


def test_windows_agree_with_their_mix():
    happy_then_calm = faces(*[HAPPY] * 5, *[CALM] * 5, *[SAD] * 5)
    windows = time_windows(happy_then_calm, 5.0, 15.0)
    assert [w["verdict"] for w in windows] == ["interested", "neutral", "not interested"]
    assert [w["dominant_emotion"] for w in windows] == ["happy", "neutral", "sad"]
    for w in windows:
        per_face = (w["positive"] - w["negative"]) / w["faces"]
        if w["verdict"] == "interested":
            assert per_face > DEFAULT_NEUTRAL_MARGIN
        if w["verdict"] == "not interested":
            assert per_face < -DEFAULT_NEUTRAL_MARGIN


def test_same_rule_for_groups_and_totals():
    rng = np.random.default_rng(3)
    scores = [dict(zip(EMOTIONS, rng.dirichlet(np.ones(7) * 0.5))) for _ in range(60)]
    df = faces(*scores).assign(person=[f"p{i % 6}" for i in range(60)])
    groups = group_totals(df, "person", margin=0.1)
    for person, part in df.groupby("person"):
        assert groups.loc[person, "verdict"] == emotion_totals(part, margin=0.1)["verdict"]
        row = groups.loc[person]
        expected = verdict(
            row["positive"], row["negative"], row["faces"], row["dominant_emotion"], 0.1
        )
        assert row["verdict"] == expected


def test_reason_gives_the_numbers():
    assert verdict_reason(4.8, 1.2, 10, "happy") == (
        "happy + surprise 48% vs angry + disgust + fear + sad 12% of the scores per face"
    )
    assert verdict_reason(1.0, 4.0, 10, "neutral").startswith("neutral is the dominant emotion")
    assert verdict_reason(1.0, 1.2, 10, "sad").endswith("within the 15-point neutral margin")
    assert verdict_reason(0.0, 0.0, 0) == "no faces"


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_margin_is_checked(bad):
    with pytest.raises(ValueError, match="neutral margin"):
        check_margin(bad)
