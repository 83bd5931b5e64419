"""Words that follow their number (issue 22 item 9: "1 frames"): analyze's summary on
stdout, and the wording of ``analyze --help`` on when faces are embedded."""

from __future__ import annotations

from feelinvideo.outputs.summary import describe
from feelinvideo.schema import counted, noun


def test_counted_and_noun():
    assert [counted(n, "frame") for n in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]
    assert counted(1, "person", "people") == "1 person" and noun(3, "person", "people") == "people"


def test_the_summary_says_1_frame_and_1_face():
    window = {"start_s": 0.0, "end_s": 10.0, "faces": 1, "dominant_emotion": "happy"}
    person = {"person": "unknown-1", "frames": 1, "dominant_emotion": "happy", "verdict": "x"}
    summary = {
        "video": {"path": "a.mp4", "duration_s": 1.0, "width": 2, "height": 2},
        "sampled_frames": 1,
        "frames_with_faces": 1,
        "faces": 1,
        "dominant_share": {"happy": 1.0},
        "positive": 1.0,
        "negative": 0.0,
        "dominant_emotion": "happy",
        "verdict": "interested",
        "windows": [window, window | {"faces": 2}],
        "people_count": 2,
        "people_left_out": 0,
        "people": [person, person | {"person": "unknown-2", "frames": 12}],
    }
    lines = describe(summary).splitlines()
    assert "1 frames" not in describe(summary) and "1 faces" not in describe(summary)
    one, two = [line for line in lines if "unknown-" in line]
    assert "     1 frame " in one and "    12 frames " in two
    assert one.index("happy") == two.index("happy")  # the columns stay aligned
    windows = [line for line in lines if line.startswith("  00:")]
    assert "1 face " in windows[0] and "2 faces" in windows[1]


def test_analyze_help_says_when_faces_are_embedded(cli):
    text = " ".join(cli("analyze", "--help").output.split())
    assert "once a second" not in text
    assert "at most once per --reembed-every seconds (default 20)" in text
