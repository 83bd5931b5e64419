"""Following faces between sampled frames (optical flow both ways), and drawing on yuv420p
frames without converting them whole: on synthetic frames with known motion."""

from __future__ import annotations

import av
import numpy as np
import pytest

from feelinvideo.faces import Faces, Sample
from feelinvideo.outputs.overlay import FaceFollower, FaceOverlay, follow_interval
from feelinvideo.outputs.overlay.flow import flow_boxes
from feelinvideo.outputs.overlay.follow import IntervalFollower
from feelinvideo.outputs.overlay.render import _Canvas
from feelinvideo.schema import EMOTIONS

H, W = 240, 320
PATCH = 40


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random texture (uint8 (h, w)): noise blurred a little, as a face has detail."""
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (h, w)).astype(np.uint8), (0, 0), 1.5)


def scene(frames: int, moves: dict, seed: int = 0) -> tuple[list[np.ndarray], dict]:
    """Grey frames of a still background with textured squares moving over it.

    Args:
        moves: name -> (x0, y0, dx, dy, first, last): a PATCH-sided square whose top-left
            corner is at (x0 + dx * f, y0 + dy * f) on frames ``first`` to ``last``.

    Returns:
        the frames and name -> {frame: box xyxy} where each square is.
    """
    background = (texture(H, W, seed).astype(np.int16) // 3 + 80).astype(np.uint8)
    patches = {name: texture(PATCH, PATCH, seed + 1 + k) for k, name in enumerate(moves)}
    out, where = [], {name: {} for name in moves}
    for f in range(frames):
        image = background.copy()
        for name, (x0, y0, dx, dy, first, last) in moves.items():
            if first <= f <= last:
                x, y = int(round(x0 + dx * f)), int(round(y0 + dy * f))
                image[y : y + PATCH, x : x + PATCH] = patches[name]
                where[name][f] = np.array([x, y, x + PATCH, y + PATCH], float)
        out.append(image)
    return out, where


def faces(boxes, people) -> Faces:
    scores = np.tile(np.eye(len(EMOTIONS))[3], (len(boxes), 1))
    return Faces(
        np.asarray(boxes, float).reshape(-1, 4), np.ones(len(boxes)), scores, person=people
    )


def centre_error(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.linalg.norm((a[:2] + a[2:]) / 2 - (b[:2] + b[2:]) / 2))


def test_flow_follows_a_moving_square_and_loses_it_when_it_goes():
    frames, where = scene(16, {"a": (40, 60, 3.0, 1.5, 0, 11)})
    box = where["a"][0]
    for f in range(11):
        (box,), (ok,) = flow_boxes(frames[f], frames[f + 1], [box])
        assert ok and centre_error(box, where["a"][f + 1]) < 1.5, f
    assert box[2] - box[0] == pytest.approx(PATCH, abs=3)  # its size kept
    lost = [flow_boxes(frames[f], frames[f + 1], [box])[1][0] for f in (11,)]
    assert lost == [False]  # the square is gone: the flow says so instead of drifting


def test_flow_boxes_with_no_boxes_and_a_box_off_the_frame():
    frames, _ = scene(2, {})
    moved, ok = flow_boxes(frames[0], frames[1], np.zeros((0, 4)))
    assert moved.shape == (0, 4) and ok.shape == (0,)
    _, ok = flow_boxes(frames[0], frames[1], [[W + 10, 10, W + 50, 50]])
    assert not ok[0]


def test_interval_follows_both_ways_and_covers_a_face_about_to_appear():
    # "a" walks across the whole interval; "b" comes into view at frame 10
    frames, where = scene(
        25, {"a": (20, 40, 4.0, 2.0, 0, 24), "b": (220, 150, -1.0, 0.0, 10, 24)}, seed=3
    )
    first = faces([where["a"][0]], ["ada"])
    last = faces([where["b"][24], where["a"][24]], ["bob", "ada"])
    done = follow_interval(frames, 1.0, (W, H), first, last)
    assert len(done.frames) == 24  # the last frame is the next interval's first
    assert done.frames[0][0] is first  # the sampled frame as it was found
    for f, (shown, _) in enumerate(done.frames):
        people = list(shown.person)
        assert people.count("ada") == 1, f  # one box for "a", never a second label
        a = shown.xyxy[people.index("ada")]
        assert centre_error(a, where["a"][f]) < 2.0, f
        if f >= 11:  # "b" is covered from (about) when it is in view
            assert "bob" in people, f
            assert centre_error(shown.xyxy[people.index("bob")], where["b"][f]) < 2.0
        if f <= 8:
            assert "bob" not in people, f  # not before: its path lost it
    assert not len(done.carried)


def test_labels_come_from_the_nearer_sample():
    frames, where = scene(11, {"a": (60, 60, 2.0, 0.0, 0, 10)}, seed=5)
    first = faces([where["a"][0]], ["early"])
    last = faces([where["a"][10]], ["late"])
    done = follow_interval(frames, 1.0, (W, H), first, last)
    assert [list(s.person) for s, _ in done.frames] == [["early"]] * 5 + [["late"]] * 5


def test_a_face_the_later_sample_misses_is_carried_once():
    frames, where = scene(21, {"a": (30, 50, 3.0, 1.0, 0, 20)}, seed=7)
    first = faces([where["a"][0]], ["ada"])
    done = follow_interval(frames[:11], 1.0, (W, H), first, Faces.empty())
    assert list(done.carried.person) == ["ada"]
    assert centre_error(done.carried.xyxy[0], where["a"][10]) < 2.0
    again = follow_interval(frames[10:], 1.0, (W, H), Faces.empty(), Faces.empty(), done.carried)
    assert all(list(s.person) == ["ada"] for s, _ in again.frames)  # followed on
    assert not len(again.carried)  # but not carried a second time


def test_a_second_path_on_the_same_face_is_a_double_not_a_second_label():
    frames, where = scene(9, {"a": (60, 60, 2.0, 0.0, 0, 8)}, seed=9)
    first = faces([where["a"][0]], ["ada"])
    shifted = where["a"][8] + [PATCH * 0.45, 0, PATCH * 0.45, 0]  # too far to pair
    last = faces([shifted], ["ada"])
    done = follow_interval(frames, 1.0, (W, H), first, last)
    for f, (shown, doubles) in enumerate(done.frames[1:], 1):
        assert list(shown.person) == ["ada"], f
        assert len(doubles) <= 1


def write_video(path, frames: list[np.ndarray], fps: int = 25) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for grey in frames:
            rgb = np.repeat(grey[:, :, None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_follower_gives_every_frame_of_a_video_in_order(tmp_path):
    frames, where = scene(30, {"a": (20, 40, 4.0, 2.0, 0, 29)}, seed=11)
    video = tmp_path / "walk.mp4"
    write_video(video, frames)
    samples = [
        Sample(0, 0.0, faces([where["a"][0]], ["ada"])),
        Sample(20, 0.8, faces([where["a"][20]], ["ada"])),
    ]
    with FaceFollower(video, samples, (W, H), 1.0) as follower:
        got = list(follower)
    assert [g.position for g in got] == list(range(30))
    assert [g.timestamp_s for g in got] == pytest.approx([f / 25 for f in range(30)])
    for g in got:
        assert len(g.faces) == 1 and centre_error(g.faces.xyxy[0], where["a"][g.position]) < 2.5
    assert got[20].faces.xyxy.tolist() == samples[1].faces.xyxy.tolist()


def test_follower_runs_the_detector_on_every_frame_not_sampled(tmp_path):
    frames, _ = scene(12, {}, seed=13)
    video = tmp_path / "still.mp4"
    write_video(video, frames)
    seen = []

    def detect(images):
        seen.extend(image.shape for image in images)
        return [Faces([[10, 10, 50, 50]], [0.99]) for _ in images]

    samples = [Sample(0, 0.0, Faces.empty()), Sample(6, 0.24, Faces.empty())]
    with FaceFollower(video, samples, (W, H), 1.0, detect=detect) as follower:
        got = list(follower)
    assert len(seen) == 10 and set(seen) == {(H, W, 3)}  # 12 frames, 2 of them sampled
    assert [len(g.hidden) for g in got] == [0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1]


def test_follower_stops_early_and_reports_a_detector_error(tmp_path):
    frames, _ = scene(40, {}, seed=15)
    video = tmp_path / "still.mp4"
    write_video(video, frames)

    def broken(images):
        raise RuntimeError("the detector fell over")

    with FaceFollower(video, [Sample(0, 0.0, Faces.empty())], (W, H), 1.0, detect=broken) as f:
        with pytest.raises(RuntimeError, match="fell over"):
            list(f)
    with FaceFollower(video, [Sample(0, 0.0, Faces.empty())], (W, H), 1.0) as f:
        assert next(iter(f)).position == 0  # left after one frame: close() stops the thread
    assert not f._thread.is_alive()


@pytest.mark.parametrize("style", ["emoji", "box", "blur"])
def test_drawing_on_yuv420p_changes_only_what_is_drawn(style):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (H, W, 3)).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    source = frame.to_ndarray(format="yuv420p")
    crowd = faces([[41, 61, 101, 131], [181, 51, 231, 111]], ["ada", "bob"])
    overlay = FaceOverlay(style)
    canvas = _Canvas(W, H)
    layout = overlay.layout(canvas.scene, crowd, Faces([[250, 150, 290, 200]], [1.0]))
    drawn, pixel_format = canvas.draw(frame, overlay, layout)
    assert pixel_format == "yuv420p" and drawn.shape == source.shape
    # outside what the layout changes, every luma and chroma sample is as decoded
    _, writes = layout.changed(overlay, canvas.scene)
    mask = np.zeros((H, W), bool)
    for x1, y1, x2, y2 in writes:
        mask[max(0, int(y1) - 2) : int(y2) + 2, max(0, int(x1) - 2) : int(x2) + 2] = True
    assert (drawn[:H][~mask] == source[:H][~mask]).all()
    assert (drawn[:H][mask] != source[:H][mask]).mean() > 0.3  # and it was drawn on
    # inside, what drawing on the whole frame in RGB gives (the conversions' rounding)
    whole = frame.to_ndarray(format="rgb24")
    overlay.draw(whole, layout)
    expected = av.VideoFrame.from_ndarray(whole, format="rgb24").reformat(format="yuv420p")
    diff = np.abs(drawn[:H].astype(int) - expected.to_ndarray()[:H])[mask]
    assert diff.mean() < 2.5 and np.percentile(diff, 99) <= 12, (diff.mean(), diff.max())
    if style == "box":  # the faces inside their outline are not touched at all
        for x1, y1, x2, y2 in crowd.xyxy.astype(int):
            inner = np.s_[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
            assert (drawn[:H][inner] == source[:H][inner]).all()


def test_a_long_interval_hands_its_first_frames_out_early_followed_forward():
    frames, where = scene(30, {"a": (20, 40, 4.0, 2.0, 0, 29)}, seed=17)
    first = faces([where["a"][0]], ["ada"])
    last = faces([where["a"][29]], ["ada"])
    follower = IntervalFollower(frames[0], 1.0, (W, H), first, window=8)
    early = [out for gray in frames[1:29] for out in follower.add(gray)]
    assert len(early) == 29 - 8  # never more than 8 frames held
    assert early[0][0] is follower.faces  # the sampled frame as it was found
    rest = follower.finish(last, frames[29]).frames
    assert len(early) + len(rest) == 29
    for f, (shown, _) in enumerate(early + rest):
        assert list(shown.person) == ["ada"], f
        assert centre_error(shown.xyxy[0], where["a"][f]) < 2.5, f
