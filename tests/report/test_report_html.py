"""report.html: the self-contained, escaped report.html rendered from the Jinja2 template."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from report_data import NASTY, synthetic_faces, write_run

from feelinvideo.report import build_report, render_html


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_html_is_offline_and_escaped_with_links_or_embedded(tmp_path, cli):
    people = ["obama", NASTY, "unknown-1"]
    write_run(tmp_path / "lecture1", synthetic_faces(20, people), duration_s=21.0)
    write_run(tmp_path / "lecture2", synthetic_faces(10, people, seed=1), duration_s=12.0)
    (tmp_path / "lecture1" / "overlay.mp4").write_bytes(b"\0")
    embedded = tmp_path / "embedded"
    result = cli("report", tmp_path, "--out", embedded, "--window", "5", "--embed")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out"
    result = cli("report", tmp_path / "lecture1", tmp_path / "lecture2", "--out", out)
    assert result.exit_code == 0, result.stderr
    # linked: each image is a file beside the page (2 class plots + 1 mix per video)
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    images = [a["src"] for t, a in page.tags if t == "img"]
    assert len(images) == 4
    for src in images:
        assert "/" not in src and (out / src).read_bytes().startswith(b"\x89PNG")
    # embedded: the same images as data: URIs
    text = (embedded / "report.html").read_text(encoding="utf-8")
    page = parse(text)
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    images = [a["src"] for t, a in page.tags if t == "img"]
    assert len(images) == 4
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
    assert links == ["#how-to-read", "../lecture1/overlay.mp4"]
    out = embedded
    # people: known names across videos, unknowns per video
    table = pd.read_csv(out / "class_summary.csv", keep_default_na=False)
    assert list(table["person"]) == [NASTY, "obama", "lecture1:unknown-1", "lecture2:unknown-1"]
    assert table.set_index("person").loc["obama", "videos"] == 2
    assert table.set_index("person").loc["obama", "attended"] == 30


def test_page_sections_and_policy(tmp_path):
    summary = {"video": {"width": 640, "height": 360}, "sampled_frames": 12}
    write_run(tmp_path / "talk", synthetic_faces(10, ["ann", "bob"]), 12.0, summary)
    old = synthetic_faces(4, ["x"], seed=2).drop(columns=["person"])
    write_run(tmp_path / "a&b", old)
    report = build_report([tmp_path / "talk", tmp_path / "a&b"], window_s=5)
    report.warnings.append("odd <b>warning</b>")
    text = render_html(report, {}, tmp_path / "out")
    page = parse(text)
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert metas == [
        {
            "http-equiv": "Content-Security-Policy",
            "content": "default-src 'none'; img-src data: 'self' file:; style-src 'unsafe-inline'",
        }
    ]
    assert not [t for t, _ in page.tags if t == "img"]  # no plots given
    words = " ".join(" ".join(page.text).split())
    for heading in ("talk", "a&amp;b", "Class table across videos", "How to read this"):
        assert re.search(f"<h2[^>]*>{heading}</h2>", text), heading
    assert "2 videos (15.0 s of video, 24 faces of 3 people), each judged on its own" in words
    assert re.search(
        r"Time windows with faces, over all videos: \d+ interested, \d+ neutral", words
    )
    assert "640×360 px" in words and "12.0 s (0:12)" in words
    assert "Emotion mix over time (5 s windows)" in words
    assert "EU AI Act" in words and "Art. 5(1)(f)" in words
    # the CSV without person column is named, escaped, in the note
    assert "No person column in the CSV of a&b: all faces" in words
    assert "a&amp;b" in text and "odd &lt;b&gt;warning&lt;/b&gt;" in text
    assert "<b>" not in text
    # numbers right-aligned, the means as percentages
    cells = [a.get("class") for t, a in page.tags if t == "td"]
    assert cells.count("n") > 10
    assert re.search(r'<td class="n">\d{1,3}%</td>', text)
    assert text.rstrip().endswith("</html>")


def test_class_plots_are_embedded_in_order(tmp_path):
    write_run(tmp_path / "talk", synthetic_faces(3, ["ann"]))
    report = build_report([tmp_path / "talk"])
    images = {"attendance": b"\x89PNG-a", "person_profiles": b"\x89PNG-b"}
    with pytest.raises(KeyError):
        render_html(report, {"nope": b""}, tmp_path)
    page = parse(render_html(report, images, tmp_path))
    shown = [
        (a["alt"], base64.b64decode(a["src"].split(",", 1)[1])) for t, a in page.tags if t == "img"
    ]
    assert shown == [
        ("Each person's emotion profile", b"\x89PNG-b"),
        ("Attendance per person and video", b"\x89PNG-a"),
    ]


def test_small_faces_are_left_out_of_emotions_and_the_page_says_so(tmp_path):
    from report_data import face_rows

    big = [(i, float(i), "ann", "happy", 0.9) for i in range(4)]
    small = [(i, float(i), "kid", "sad", 0.9) for i in range(6)]
    df = pd.concat([face_rows(*big), face_rows(*small, side=20.0)], ignore_index=True)
    run = tmp_path / "class"
    write_run(run, df, 6.0)
    evaluation = {
        "mode": "pipeline",
        "accuracy": 0.5,
        "scored": 40,
        "crops_accuracy": 0.56,
        "rule": "box, mirror averaged",
        "by_size": [
            {"size_px": 24, "face_px": 22.0, "detection_rate": 0.8, "accuracy": 0.31,
             "reference_accuracy": 0.3},
            {"size_px": 100, "face_px": 99.0, "detection_rate": 0.9, "accuracy": 0.55,
             "reference_accuracy": 0.53},
            {"size_px": "oops", "accuracy": 2},
        ],
    }  # fmt: skip
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    report = build_report([run], window_s=2)
    assert report.faces == 10 and report.emotion_faces == 4
    assert report.totals["verdict"] == "interested"  # ann's happy faces only
    people = report.people.set_index("person")
    assert people.loc["ann", "emotion_faces"] == 4
    assert people.loc["kid", "faces"] == 6 and people.loc["kid", "emotion_faces"] == 0
    assert people.loc["kid", "dominant_emotion"] == "" and people.loc["kid", "verdict"] == "neutral"
    assert report.windows["emotion_faces"].tolist() == [2, 2, 0]
    text = render_html(report, {}, tmp_path / "out")
    words = " ".join(" ".join(parse(text).text).split())
    assert "6 of them under 32 px, too small to score, left out of the emotions" in words
    assert "emotions counted from 4 faces; 6 under 32 px left out as too small" in words
    assert "every face under 32 px: too small to score, emotions not counted" in words
    assert "faces too small" in words  # the last window holds kid's faces only
    assert "no face large enough to score" in words  # kid's verdict says why it is neutral
    assert "Only faces at least 32 px on their box's longer side" in words
    assert "50% top-1 accuracy on 40 labelled faces (56% on the same faces' crops" in words
    table = re.search(r'<table class="by-size">.*?</table>', text, re.S).group(0)
    rows = re.findall(r"<tr><td[^>]*>(\d+)</td><td[^>]*>([\d.]+)</td>.*?<td>(yes|no)</td>", table)
    assert rows == [("24", "22", "no"), ("100", "99", "yes")]  # the bad row left out
    every = build_report([run], window_s=2, min_emotion_face_px=0)
    assert every.emotion_faces == 10
    words = " ".join(" ".join(parse(render_html(every, {}, tmp_path / "o")).text).split())
    assert "too small to score" not in words
    with pytest.raises(ValueError, match="min_emotion_face_px"):
        build_report([run], min_emotion_face_px=-1)
