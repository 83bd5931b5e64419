"""Faces on every frame of the overlay: followed from each sampled frame to the next.

The analysis finds faces on its sampled frames only (one a second by default); the overlay
draws every frame. Between two sampled frames each face is followed by optical flow, both
ways: forward from the sample before, backward from the sample after. A face both samples
hold (paired by where the two paths meet, not by ``tracker_id``: tracks of walking people
break at almost every sample) moves along the blend of the two paths, the weight sliding
linearly from the earlier one to the later one, so that its box is on the face at every
frame and reaches the next sample's box without a jump; it keeps the label of the sample
nearer in time. A face only one sample holds is followed from that one alone: a face about
to appear is covered back to when it came into view, one that leaves until it is gone. A
path that loses its face (too few of its points follow it consistently forward and back)
stops there. Frames before the first sample are covered by following it backward, frames
after the last by following it forward.

Why optical flow, and this one (``python bench/bench_follow.py --mosaic-seconds 30``,
docs/benchmarks.md, "Following faces between samples"): against a per-frame run of the
detector on the street clip (1920x1080, people walking toward the camera, 500 faces in 105
frames, a sample a second), holding each sample's boxes until the next sample (the rule
before) puts 37% of the faces within a quarter of a face width of their box and blurs 60%
of them; median flow forward only, 93% and 93%; OpenCV's trackers forward, one per face,
86.8% (MIL) and, with opencv-contrib, 66-93% (MOSSE, KCF, MedianFlow, CSRT); median flow both
ways, 99.6% and 99.6% (and 99.6% on the classroom mosaic), for 8 ms of CPU a 1080p frame.
A per-frame pass of the detector at the detection scale agrees with itself by definition,
but costs 184 ms a 1080p frame with MTCNN, 113 ms with YuNet (72 and 43 ms at 720p):
twenty times the flow, for the last 0.4%. So the emoji and box styles only follow, and the
``blur`` style, whose promise is every face the detector finds, runs the detector on every
frame on top of the flow (:mod:`feelinvideo.outputs.overlay.render`).

The flow itself (median flow, at :func:`~.flow.tracking_scale`) is :mod:`.flow`.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from ...errors import VideoError
from ...faces import Faces, Sample, box_iou, clip_xyxy
from ...stream import CALL_BYTES
from ...video import display_turns, upright, video_streams
from .flow import flow_boxes, follow_boxes

#: Two paths are one face when the sum of their overlaps (IoU) where they meet reaches this.
PAIR_MIN_IOU = 0.5
#: A face the later sample missed is carried on unless it overlaps one of its faces by this.
CARRY_MAX_IOU = 0.3
#: A followed box overlapping an earlier one of the same frame by this IoU (or at all, with
#: the same person) is the same face drawn twice: only the first keeps its label.
DUPLICATE_IOU = 0.5


class Interval(NamedTuple):
    """The faces followed over the frames between two sampled frames
    (:class:`IntervalFollower`).

    Attributes:
        frames: one ``(faces, doubles)`` per frame drawn: ``faces`` are rows of the
            samples' faces (labels, scores, track) with their boxes moved onto the frame
            (video pixels); ``doubles`` are further boxes of faces already in ``faces`` (a
            second path close to the first), for the blur only.
        carried: faces of the earlier sample that the later one missed but the flow still
            follows at its frame (boxes there), to follow on through the next interval.
    """

    frames: list[tuple[Faces, Faces]]
    carried: Faces


class IntervalFollower:
    """Follows the faces of one interval between two sampled frames as its frames arrive.

    Each face of the earlier sample is followed forward frame by frame as the frames come
    (:meth:`add`); when the later sample's frame comes (:meth:`finish`), its faces are
    followed backward over the frames still held, and the two paths paired and blended
    (see the module's docstring). At most ``window`` frames are held: an interval longer
    than that hands its first frames out early, with the forward paths alone, so memory is
    bounded whatever the sampling interval.

    Args:
        gray: uint8 (h, w) grey image at ``scale`` of the interval's first frame: the frame
            of sample ``first``, or the video's first frame when ``first`` is None.
        scale: how the grey images are scaled from the video's frames, in (0, 1].
        frame_wh: the video frames' upright ``(width, height)`` in pixels.
        first: the faces of the sample the interval starts at (boxes in video pixels).
        carried: faces on the first frame that its sample missed (the previous interval's
            :attr:`Interval.carried`): followed as ``first``'s faces are, but carried on
            once only (a face the detector misses at two samples in a row is dropped at the
            second).
        window: the most frames held at once (>= 2); None: no limit.
    """

    def __init__(
        self,
        gray: np.ndarray,
        scale: float,
        frame_wh: tuple[int, int],
        first: Faces | None,
        carried: Faces | None = None,
        window: int | None = None,
    ):
        own = first if first is not None else Faces.empty()
        self.faces = (
            replace(Faces.concatenate([own, carried]), embedding=None)
            if carried is not None and len(carried)
            else own
        )
        self.own = len(own)
        self.sampled = first is not None or (carried is not None and len(carried) > 0)
        self.scale = float(scale)
        self.frame_wh = (int(frame_wh[0]), int(frame_wh[1]))
        self.window = None if window is None else max(2, int(window))
        self._boxes = self.faces.xyxy.astype(np.float64) * self.scale
        self._alive = np.ones(len(self.faces), dtype=bool)
        self._grays = [gray]
        self._fwd = [self._boxes.copy()]
        self.seen = 1  # frames of the interval so far, the first included
        self.handed = 0  # frames handed out early

    def _step(self, gray: np.ndarray) -> np.ndarray:
        """The forward paths moved onto ``gray``: float64 (N, 4), NaN rows for lost faces."""
        idx = np.flatnonzero(self._alive)
        if len(idx):
            moved, ok = flow_boxes(self._grays[-1], gray, self._boxes[idx])
            self._boxes[idx] = moved
            self._alive[idx[~ok]] = False
        return np.where(self._alive[:, None], self._boxes, np.nan)

    def add(self, gray: np.ndarray) -> list[tuple[Faces, Faces]]:
        """Take the interval's next frame; return the frames handed out early to keep at
        most ``window`` held (forward paths only), usually none."""
        self._fwd.append(self._step(gray))
        self._grays.append(gray)
        self.seen += 1
        out = []
        while self.window is not None and len(self._grays) > self.window:
            out.append(self._forward_only(0))
            del self._grays[0], self._fwd[0]
            self.handed += 1
        return out

    def _forward_only(self, k: int) -> tuple[Faces, Faces]:
        if self.handed + k == 0 and self.sampled:
            return self.faces, Faces.empty()
        rows = [(self.faces, i, box) for i, box in enumerate(self._fwd[k]) if np.isfinite(box[0])]
        return _frame_faces(rows, self.scale, *self.frame_wh)

    def finish(self, last: Faces | None = None, gray: np.ndarray | None = None) -> Interval:
        """End the interval: at the frame ``gray`` of sample ``last`` (which is the next
        interval's first frame, not drawn here), or at the video's end (``last`` None).

        Returns:
            the frames still held, as an :class:`Interval`.
        """
        a, held = self.faces, len(self._grays)
        if last is None:
            return Interval([self._forward_only(k) for k in range(held)], Faces.empty())
        b = last
        end = self._step(gray)
        grays = [*self._grays, gray]
        fwd = np.stack([*self._fwd, end]) if len(a) else np.zeros((held + 1, 0, 4))
        bwd = follow_boxes(grays, b.xyxy * self.scale, backward=True)
        pairs = _pairs(fwd, bwd, b.xyxy * self.scale)
        paired_a = {i for i, _ in pairs}
        paired_b = {j for _, j in pairs}
        total = self.seen  # frames of the interval, the next sample's excluded
        out = []
        for k in range(held):
            f = self.handed + k
            if f == 0 and self.sampled:
                out.append((a, Faces.empty()))
                continue
            w = f / total
            rows: list[tuple[Faces, int, np.ndarray]] = []  # (source, row, box)
            for i, j in pairs:
                fa, fb = fwd[k, i], bwd[k, j]
                if np.isfinite(fa[0]) and np.isfinite(fb[0]):
                    box = (1 - w) * fa + w * fb
                else:
                    box = fa if np.isfinite(fa[0]) else fb
                if np.isfinite(box[0]):
                    rows.append((a, i, box) if w < 0.5 else (b, j, box))
            rows += [(a, i, fwd[k, i]) for i in range(len(a)) if i not in paired_a]
            rows += [(b, j, bwd[k, j]) for j in range(len(b)) if j not in paired_b]
            rows = [r for r in rows if np.isfinite(r[2][0])]
            out.append(_frame_faces(rows, self.scale, *self.frame_wh))
        width, height = self.frame_wh
        lost = [i for i in range(self.own) if i not in paired_a and np.isfinite(end[i, 0])]
        boxes = clip_xyxy(end[lost] / self.scale, width, height) if lost else np.zeros((0, 4))
        if lost and len(b):
            free = box_iou(boxes, b.xyxy).max(axis=1) < CARRY_MAX_IOU
            lost, boxes = [i for i, ok in zip(lost, free) if ok], boxes[free]
        carry = _gather([(a, i, None) for i in lost], boxes) if lost else Faces.empty()
        return Interval(out, carry)


def follow_interval(
    grays: list[np.ndarray],
    scale: float,
    frame_wh: tuple[int, int],
    first: Faces | None,
    last: Faces | None,
    carried: Faces | None = None,
) -> Interval:
    """The faces to draw on each frame between two sampled frames, all frames at once
    (:class:`IntervalFollower` with no window).

    Args:
        grays: uint8 (h, w) grey images at ``scale`` of consecutive frames: the first is the
            frame of sample ``first`` (or the video's first frame when ``first`` is None),
            the last the frame of sample ``last`` (or the video's last frame when ``last``
            is None).
        scale, frame_wh, first, carried: as for :class:`IntervalFollower`.
        last: the faces of the sample at the last frame, or None (the video's end).

    Returns:
        an :class:`Interval`: one entry per frame of ``grays`` but the last when ``last``
        is given (that frame is the next interval's first); the first frame gets
        ``first`` (and ``carried``) as they are.
    """
    if not grays:
        return Interval([], Faces.empty())
    body = grays[:-1] if last is not None else grays
    if not body:
        return Interval([], Faces.empty())
    follower = IntervalFollower(body[0], scale, frame_wh, first, carried)
    for gray in body[1:]:
        follower.add(gray)
    return follower.finish(last, grays[-1]) if last is not None else follower.finish()


def _pairs(fwd: np.ndarray, bwd: np.ndarray, b: np.ndarray) -> list:
    """Pairs ``(i, j)``: face ``i`` of the earlier sample is face ``j`` of the later one,
    where the forward path of ``i`` meets ``j`` at the later frame and the backward path of
    ``j`` meets the forward path of ``i`` at the first frame held (sum of the two IoU >=
    :data:`PAIR_MIN_IOU`; one-to-one, Hungarian assignment)."""
    if not fwd.shape[1] or not len(b):
        return []
    from scipy.optimize import linear_sum_assignment

    end, start = np.nan_to_num(fwd[-1]), np.nan_to_num(bwd[0])
    score = box_iou(end, b) + box_iou(np.nan_to_num(fwd[0]), start)
    rows, cols = linear_sum_assignment(-score)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if score[i, j] >= PAIR_MIN_IOU]


def _frame_faces(rows, scale: float, width: int, height: int) -> tuple[Faces, Faces]:
    """One frame's followed faces: each row's face with its box (tracking pixels) in video
    pixels; a box overlapping an earlier one by :data:`DUPLICATE_IOU`, or at all with the
    same person, goes to the doubles."""
    if not rows:
        return Faces.empty(), Faces.empty()
    boxes = clip_xyxy(np.array([r[2] for r in rows]) / scale, width, height)
    keep: list[int] = []
    doubles: list[int] = []
    people = [r[0].person[r[1]] for r in rows]
    for k in range(len(rows)):
        iou = box_iou(boxes[k : k + 1], boxes[keep])[0] if keep else np.zeros(0)
        same = np.array([bool(people[k]) and people[j] == people[k] for j in keep], bool)
        if (iou >= DUPLICATE_IOU).any() or (same & (iou > 0)).any():
            doubles.append(k)
        else:
            keep.append(k)
    shown = _gather([rows[k] for k in keep], boxes[keep])
    extra = _gather([rows[k] for k in doubles], boxes[doubles]) if doubles else Faces.empty()
    return shown, extra


def _gather(rows, boxes: np.ndarray) -> Faces:
    """The faces of ``rows`` (``(source Faces, row, _)``) in one :class:`Faces`, with
    ``boxes`` (video pixels) as their boxes."""
    parts = [source[[row]] for source, row, _ in rows]
    joined = parts[0] if len(parts) == 1 else Faces.concatenate(parts)
    # the boxes moved: the sampled frame's landmarks no longer fit them
    return replace(
        joined,
        xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
        embedding=None,
        landmarks=None,
    )


class FrameFaces(NamedTuple):
    """What the overlay draws on one frame.

    Attributes:
        position: the frame's 0-based position in decode order.
        timestamp_s: its presentation time in seconds from the start of the stream.
        faces: the faces drawn with their labels (rows of a sample, boxes followed onto
            this frame, video pixels).
        hidden: more areas to blur without a label (the ``blur`` style): second paths of
            faces already in ``faces`` and, with a detector, every face it finds on the
            frame (float32 (M, 4) ``xyxy`` as :class:`Faces`).
        frame: the decoded PyAV frame itself (what the renderer draws on).
    """

    position: int
    timestamp_s: float
    faces: Faces
    hidden: Faces
    frame: object = None


#: Frames per detector call when every frame is detected (the ``blur`` style), at most;
#: fewer for large frames, so one call's frames stay under CALL_BYTES as in the analysis.
DETECT_BATCH = 8
#: Frames of results the follower may hold ready before the renderer takes them.
QUEUE_FRAMES = 64
#: Bytes of decoded frames and grey images the follower holds at most (it holds an
#: interval's frames until the next sample's come; a longer interval hands its first
#: frames out early, followed forward only).
HOLD_BYTES = 256_000_000


class FaceFollower:
    """The faces of every frame of a video, followed between its sampled frames
    (:class:`IntervalFollower`), with the decoded frames themselves: decoding happens once,
    here, in a background thread that runs one sampling interval ahead of the renderer
    iterating it.

    Memory: at most :data:`HOLD_BYTES` of held frames (decoded yuv420p frames and their
    grey images: at 1 sample a second, 25 frames of a 1080p video, about 90 MB), plus
    :data:`QUEUE_FRAMES` frames handed over and not yet drawn.

    Args:
        video_path: the video (every frame decoded, in order).
        samples: the analysis's sampled frames, in time order; each frame is in the
            interval of the latest sample at or before its time.
        frame_wh: the upright ``(width, height)`` of the frames in pixels.
        scale: the tracking images' scale (:func:`~.flow.tracking_scale`), taken as ``1 / k`` for
            the nearest whole ``k``.
        detect: a detector's ``detect(images) -> list[Faces]`` (RGB uint8 frames, boxes in
            their pixels), run on every frame that is not a sampled one; its faces are
            added to :attr:`FrameFaces.hidden`. None: faces are only followed.

    Iterating yields one :class:`FrameFaces` per decoded frame, in decode order, and raises
    what the thread raised (VideoError for a video that cannot be decoded, BackendError
    from the detector). Use it as a context manager (or call :meth:`close`).
    """

    def __init__(
        self,
        video_path,
        samples: Sequence[Sample],
        frame_wh: tuple[int, int],
        scale: float,
        detect: Callable[[list[np.ndarray]], list[Faces]] | None = None,
    ):
        self.video_path = str(video_path)
        self.samples = list(samples)
        self.frame_wh = (int(frame_wh[0]), int(frame_wh[1]))
        self.factor = max(1, round(1.0 / float(scale)))  # grey images 1/factor of the frames
        self.scale = 1.0 / self.factor
        self.detect = detect
        width, height = self.frame_wh
        tw, th = max(1, width // self.factor), max(1, height // self.factor)
        #: the most frames held at once (:data:`HOLD_BYTES`)
        self.window = max(8, HOLD_BYTES // (width * height * 3 // 2 + tw * th))
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feelinvideo-follow", daemon=True)
        self._started = False

    def __enter__(self) -> FaceFollower:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[FrameFaces]:
        if not self._started:
            self._started = True
            self._thread.start()
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread (it finishes its current frame) and wait for it."""
        self._stop.set()
        if self._started:
            while self._thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    self._queue.get(timeout=0.05)  # unblock a put
            self._thread.join()

    def _put(self, item) -> bool:
        """Hand ``item`` over, waiting for room; False once stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._follow()
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the iterating thread
            if isinstance(exc, av_errors()):
                exc = VideoError(f"{self.video_path}: decoding failed ({exc})")
            self._put(exc)

    def _follow(self) -> None:
        samples = self.samples
        width, height = self.frame_wh
        batch = max(1, min(DETECT_BATCH, CALL_BYTES // max(1, width * height * 3)))
        window = max(self.window, 2 * batch)
        sample = -1  # the latest sample at or before the current frame
        interval: IntervalFollower | None = None
        waiting: collections.deque = collections.deque()  # [position, t, frame, found]
        pending: list = []  # [entry, rgb] awaiting the detector
        for position, t, gray, rgb, frame in self._frames():
            if self._stop.is_set():
                return
            at = sample
            while at + 1 < len(samples) and samples[at + 1].timestamp_s <= t + 1e-6:
                at += 1
            done: list = []
            if interval is None:
                first = samples[at].faces if at >= 0 else None
                interval = IntervalFollower(gray, self.scale, (width, height), first, None, window)
            elif at != sample:  # the interval ends on this sampled frame
                ended = interval.finish(samples[at].faces, gray)
                done = ended.frames
                interval = IntervalFollower(
                    gray, self.scale, (width, height), samples[at].faces, ended.carried, window
                )
            else:
                done = interval.add(gray)
            sample = at
            entry = [position, t, frame, None]
            if done:
                self._detect(pending)  # the frames handed out need their detections
                if not self._emit(waiting, done):
                    return
            waiting.append(entry)
            if self.detect is not None and not (at >= 0 and _is_sample(samples[at], t)):
                pending.append((entry, rgb))
                if len(pending) >= batch:
                    self._detect(pending)
        if interval is not None:
            self._detect(pending)
            self._emit(waiting, interval.finish().frames)

    def _detect(self, pending: list) -> None:
        """Run the detector on the frames waiting for it."""
        if pending:
            found = self.detect([rgb for _, rgb in pending])
            for (entry, _), faces in zip(pending, found, strict=True):
                entry[3] = faces
            pending.clear()

    def _emit(self, waiting: collections.deque, done: list) -> bool:
        """Hand over the oldest waiting frames with their faces ``done``, in order."""
        for faces, doubles in done:
            position, t, frame, found = waiting.popleft()
            hidden = doubles
            if found is not None and len(found):
                boxes = np.concatenate([doubles.xyxy, found.xyxy])
                hidden = Faces(boxes, np.ones(len(boxes)))
            if not self._put(FrameFaces(position, t, faces, hidden, frame)):
                return False
        return True

    def _frames(self) -> Iterator[tuple]:
        """``(position, timestamp_s, grey tracking image, upright RGB frame or None, the
        decoded frame)`` of every frame, in decode order."""
        import av

        with av.open(self.video_path) as src:
            vin = video_streams(src)[0]
            vin.thread_type = "AUTO"
            start = vin.start_time or 0
            for position, frame in enumerate(src.decode(vin)):
                t = float((frame.pts - start) * vin.time_base) if frame.pts is not None else 0.0
                rgb = upright(frame) if self.detect is not None else None
                yield position, t, small_gray(frame, self.factor), rgb, frame


#: Pixel formats whose first plane is the luma, used as the grey image as it is.
LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"}
)


def small_gray(frame, factor: int) -> np.ndarray:
    """A decoded PyAV frame's grey image, upright, ``factor`` (whole, >= 1) times smaller
    on each side (area averaging, OpenCV's fast path for whole factors; the last rows and
    columns short of a whole block left out, so that a pixel ``x`` of the frame is ``x /
    factor`` of the image): the luma plane as decoded where the format has one (no
    conversion), else FFmpeg's conversion to grey. uint8 (H // factor, W // factor)."""
    import cv2

    if frame.format.name in LUMA_FIRST:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        luma = luma[: frame.height, : frame.width]
    else:
        luma = frame.reformat(format="gray").to_ndarray()
    if factor > 1:
        h, w = luma.shape[0] // factor, luma.shape[1] // factor
        gray = cv2.resize(luma[: h * factor, : w * factor], (w, h), interpolation=cv2.INTER_AREA)
    else:
        gray = np.array(luma)  # a copy: the plane belongs to the frame
    turns = display_turns(frame)
    return np.ascontiguousarray(np.rot90(gray, turns)) if turns else gray


def _is_sample(sample: Sample, t: float) -> bool:
    """Whether the frame at time ``t`` is ``sample``'s own frame (its faces are detections)."""
    return abs(sample.timestamp_s - t) <= 1e-6


def av_errors() -> tuple[type, ...]:
    """PyAV's error class (imported lazily)."""
    import av

    return (av.error.FFmpegError,)
