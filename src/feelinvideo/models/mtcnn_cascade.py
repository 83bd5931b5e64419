"""MTCNN's three-network cascade on OpenCV's dnn module, without TensorFlow at run time.

The method is Zhang et al. (2016, "Joint Face Detection and Alignment using Multi-task
Cascaded Convolutional Networks"); the weights and every rule and threshold are those of
the ``mtcnn`` 1.0.0 package (MIT), whose detector is reproduced step by step:

1. **P-Net** scans an image pyramid (scales ``0.6 * 0.709^k`` for MTCNN's 20-px minimum
   face, down to 12 px; area resampling): cells scoring over 0.6 become boxes, thinned by
   non-maximum suppression per scale (IoU 0.5), then across scales (IoU 0.7), made square.
2. **R-Net** rescores a 24x24 crop of each box (bilinear, as ``tf.image.crop_and_resize``),
   keeps those over 0.7, moves them by its regression, NMS at IoU 0.7, square again.
3. **O-Net** rescores a 48x48 crop, keeps those over 0.8, regresses boxes and five
   landmarks, and a last NMS compares overlap with the smaller box (0.7).

Boxes are clipped to the image and rounded to whole pixels, as ``mtcnn`` returns them.

The networks run from the TensorFlow Lite copies that ship in the package
(``models/weights/mtcnn/``, made from the ``mtcnn`` 1.0.0 wheel's weights by
``scripts/convert_models.py`` and checked against Keras; :mod:`feelinvideo.models.tflite`);
R-Net's and O-Net's fully connected heads run in numpy from the same weights
(``heads.npz``: OpenCV's TFLite reader gets the flattening order of their ``Permute`` +
``Flatten`` wrong). Why not simply call ``mtcnn``: its pyramid and crops are TensorFlow ops,
so it needs TensorFlow installed (about 1.3 GB) and imported (7-9 s, about 800 MB a process)
and, in eager mode, takes 100-130 ms a 1280x720 frame here, holding the GIL between ops;
this cascade finds the same faces (``tests/models/test_mtcnn_cascade.py``) several times
faster.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import BackendError
from . import tflite

#: MTCNN's pyramid: smallest face (px), smallest P-Net input (px) and scale step.
MIN_FACE = 20
MIN_SIZE = 12
SCALE_FACTOR = 0.709
#: Score thresholds of P-Net, R-Net and O-Net (``mtcnn``'s defaults).
THRESHOLDS = (0.6, 0.7, 0.8)
#: Pixels are mapped to about [-1, 1] as (x - 127.5) / 128, as MTCNN was trained.
MEAN, SCALE = 127.5, 128.0
#: Boxes compared at once in non-maximum suppression (bounds its memory).
NMS_BLOCK = 1024
#: P-Nets kept, one an input size: a 1080p pyramid has 11 scales.
MAX_PNETS = 16
#: Crops a call of R-Net or O-Net.
REFINE_CROPS_PER_CALL = 256
#: Images a call of P-Net: OpenCV keeps a call's buffers (per input size), so whole batches
#: of 9 frames made peak memory follow the batch size (about 16 MB an image at 720p).
PNET_IMAGES_PER_CALL = 3
#: Arrays of ``heads.npz``: per network, the hidden layer's weights and bias, its PReLU's
#: slopes, and three output layers (R-Net's landmark output is empty).
HEAD_KEYS = tuple(
    f"{net}_{key}"
    for net, hidden in (("rnet", "fc4"), ("onet", "fc5"))
    for key in (f"{hidden}_w", f"{hidden}_b", "alpha")
    + tuple(f"out{k}_{p}" for k in range(3) for p in ("w", "b"))
)


def scale_pyramid(height: int, width: int) -> np.ndarray:
    """MTCNN's pyramid scales for an image (``mtcnn.utils.images.build_scale_pyramid``):
    float64 (S,), largest first, the smallest still leaving P-Net 12 px."""
    count = round(-((np.log(min(width, height) / MIN_SIZE) / np.log(SCALE_FACTOR)) + 1))
    return (MIN_SIZE / MIN_FACE) * SCALE_FACTOR ** np.arange(max(count, 0))


def overlap(boxes: np.ndarray, others: np.ndarray, method: str = "union") -> np.ndarray:
    """Overlap float64 (M, N) of ``xyxy`` pixel boxes (M, 4) with (N, 4): intersection over
    union, or over the smaller box with ``method="min"``; areas as ``(x2 - x1) * (y2 - y1)``
    (NaN for two empty boxes, which then suppress nothing)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    other = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    w = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(
        boxes[:, None, 0], others[None, :, 0]
    )
    h = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(
        boxes[:, None, 1], others[None, :, 1]
    )
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    if method == "min":
        denominator = np.minimum(area[:, None], other[None, :])
    else:
        denominator = area[:, None] + other[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / denominator


def suppress(
    rows: np.ndarray, threshold: float, method: str = "union", sort: bool = True
) -> np.ndarray:
    """``mtcnn``'s non-maximum suppression over rows ``[image, x1, y1, x2, y2, score, ...]``.

    Per image, rows are ranked by score (highest first, unless ``sort`` is False: already
    ranked) and a row is dropped when any higher-ranked row overlaps it by more than
    ``threshold``, even one itself dropped (``mtcnn.utils.bboxes.nms``; greedy NMS would
    let such a row suppress nothing). Written here because OpenCV's and torchvision's
    NMS are greedy and have no smaller-box overlap.

    Returns:
        the rows kept, ranked, grouped by image in ascending order.
    """
    if sort and len(rows):
        rows = rows[np.argsort(rows[:, 5])[::-1]]
    kept = []
    for image in np.unique(rows[:, 0]):
        group = rows[rows[:, 0] == image]
        boxes = group[:, 1:5]
        keep = np.ones(len(group), dtype=bool)
        for start in range(0, len(group), NMS_BLOCK):
            block = overlap(boxes[: start + NMS_BLOCK], boxes[start : start + NMS_BLOCK], method)
            ranked_above = np.arange(len(block))[:, None] < np.arange(start, start + block.shape[1])
            keep[start : start + block.shape[1]] = ~((block > threshold) & ranked_above).any(0)
        kept.append(group[keep])
    return np.concatenate(kept) if kept else rows[:0]


def square(rows: np.ndarray) -> np.ndarray:
    """A copy of rows (K, >= 5) ``[image, x1, y1, x2, y2, ...]`` (float64, pixels) with the
    boxes made square about their centres (side = the longer side)."""
    rows = rows.copy()
    w, h = rows[:, 3] - rows[:, 1], rows[:, 4] - rows[:, 2]
    side = np.maximum(w, h)
    rows[:, 1] += w * 0.5 - side * 0.5
    rows[:, 2] += h * 0.5 - side * 0.5
    rows[:, 3] = rows[:, 1] + side
    rows[:, 4] = rows[:, 2] + side
    return rows


def regress(rows: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A copy of rows (K, >= 5) ``[image, x1, y1, x2, y2, ...]`` (float64, pixels) with the
    boxes moved by a network's regression ``offsets`` (K, 4), in units of the box's side + 1."""
    rows = rows.copy()
    w = rows[:, 3] - rows[:, 1] + 1
    h = rows[:, 4] - rows[:, 2] + 1
    rows[:, 1:5] += offsets * np.stack([w, h, w, h], axis=-1)
    return rows


def crop_and_resize(images: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """Bilinear ``size`` x ``size`` crops of ``images`` (B, H, W, C) for rows' boxes, as
    ``tf.image.crop_and_resize`` does with ``mtcnn``'s box normalisation (pixel / side):
    sample positions ``y1 / H * (H - 1) + i * (y2 - y1) / H * (H - 1) / (size - 1)``,
    zero outside the image. Returns float32 (K, size, size, C)."""
    _, height, width, _ = images.shape
    steps = np.arange(size, dtype=np.float64)

    def positions(lo, hi, side):
        lo, hi = lo / side * (side - 1), hi / side * (side - 1)
        at = lo[:, None] + steps[None, :] * ((hi - lo) / (size - 1))[:, None]
        inside = (at >= 0) & (at <= side - 1)
        first = np.clip(np.floor(at), 0, side - 1).astype(np.intp)
        second = np.clip(np.ceil(at), 0, side - 1).astype(np.intp)
        return first, second, (at - np.floor(at)).astype(np.float32), inside

    top, bottom, fy, in_y = positions(rows[:, 2], rows[:, 4], height)
    left, right, fx, in_x = positions(rows[:, 1], rows[:, 3], width)
    # one flat gather a corner (fancy indexing on three axes is several times slower)
    pixels = images.reshape(-1, images.shape[-1])
    base = rows[:, 0].astype(np.intp)[:, None, None] * (height * width)

    def at(ys, xs):
        return pixels[base + ys[:, :, None] * width + xs[:, None, :]]

    fx4 = fx[:, None, :, None]
    upper = at(top, left)
    upper += (at(top, right) - upper) * fx4
    lower = at(bottom, left)
    lower += (at(bottom, right) - lower) * fx4
    upper += (lower - upper) * fy[:, :, None, None]
    upper[~(in_y[:, :, None] & in_x[:, None, :])] = 0.0
    return upper


def _prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, alpha * x)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class MtcnnCascade:
    """The P-Net -> R-Net -> O-Net cascade on OpenCV's dnn (see the module's docstring).

    Args:
        folder: a folder of the converted networks (:func:`load_cascade` reads the shipped
            one, checked): ``pnet.tflite`` (any input size; face logits, no softmax),
            ``rnet.tflite`` and ``onet.tflite`` (convolutional trunks) and ``heads.npz``
            (their fully connected heads: ``{net}_{layer}`` arrays).

    Raises:
        BackendError: a file is missing or OpenCV cannot read it.
    """

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        self.folder = folder
        self._pnet_file = folder / "pnet.tflite"
        self._pnets: dict[tuple[int, int], object] = {}
        self._rnet = tflite.read_net(folder / "rnet.tflite")
        self._onet = tflite.read_net(folder / "onet.tflite")
        try:
            with np.load(folder / "heads.npz") as heads:
                self.heads = {k: heads[k].astype(np.float32) for k in HEAD_KEYS}
        except Exception as exc:  # noqa: BLE001 - a damaged archive fails in many ways
            raise BackendError(f"{folder / 'heads.npz'}: cannot read it ({exc})") from None
        self._pnet((MIN_SIZE * 2, MIN_SIZE * 2))  # reads and checks pnet.tflite now

    def _pnet(self, size: tuple[int, int]):
        """One P-Net per input size (OpenCV reallocates a network when its input changes),
        kept for the pyramid of one image size (a video's); photos of many sizes (enrolling)
        do not pile up networks."""
        size = (int(size[0]), int(size[1]))
        if size not in self._pnets and len(self._pnets) >= MAX_PNETS:
            self._pnets.clear()
        if size not in self._pnets:
            self._pnets[size] = tflite.read_net(self._pnet_file)
        return self._pnets[size]

    def pnet(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P-Net on float32 (B, h, w, 3) normalised images: box offsets (B, h', w', 4) and
        face/not-face probabilities (B, h', w', 2). The softmax runs here (OpenCV's TFLite
        reader takes a 4-d softmax over the wrong axis)."""
        offsets, logits = tflite.run_net(self._pnet(images.shape[1:3]), images)
        if offsets.shape[-1] != 4:
            offsets, logits = logits, offsets
        return offsets, _softmax(logits)

    def head(self, name: str, trunk: np.ndarray) -> list[np.ndarray]:
        """R-Net's (``name="rnet"``) or O-Net's fully connected head on trunk outputs
        (K, h, w, C) NHWC: ``[offsets (K, 4), (O-Net: landmarks (K, 10)), scores (K, 2)]``.
        Keras's ``Permute((2, 1, 3))`` + ``Flatten`` order is reproduced."""
        w = self.heads
        x = trunk.transpose(0, 2, 1, 3).reshape(len(trunk), -1)
        hidden = "fc4" if name == "rnet" else "fc5"
        x = _prelu(x @ w[f"{name}_{hidden}_w"] + w[f"{name}_{hidden}_b"], w[f"{name}_alpha"])
        outs = [x @ w[f"{name}_out{k}_w"] + w[f"{name}_out{k}_b"] for k in range(3)]
        outs = [o for o in outs if o.shape[1]]  # R-Net has no landmark output
        outs[-1] = _softmax(outs[-1])
        return outs

    def trunk(self, name: str, crops: np.ndarray) -> np.ndarray:
        """R-Net's (``name="rnet"``, float32 crops (K, 24, 24, 3)) or O-Net's (K, 48, 48, 3)
        convolutional trunk: features (K, h, w, C) NHWC for :meth:`head`."""
        return tflite.run_net(self._rnet if name == "rnet" else self._onet, crops)[0]

    def refine(self, name: str, normalized: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        """R-Net (``name="rnet"``, 24x24 crops) or O-Net (48x48) on rows' boxes, at most
        :data:`REFINE_CROPS_PER_CALL` crops a network call (OpenCV keeps a call's buffers, so this
        bounds memory in a crowded frame); outputs as :meth:`head`."""
        side = 24 if name == "rnet" else 48
        parts = []
        for start in range(0, len(rows), REFINE_CROPS_PER_CALL):
            crops = crop_and_resize(normalized, rows[start : start + REFINE_CROPS_PER_CALL], side)
            parts.append(self.head(name, self.trunk(name, crops)))
        return [np.concatenate(outs) for outs in zip(*parts, strict=True)]

    def detect(self, images: np.ndarray) -> list[np.ndarray]:
        """Faces in a batch of same-size images.

        Args:
            images: uint8 array (B, H, W, 3), RGB.

        Returns:
            per image, float64 array (K, 15): ``x1, y1, x2, y2`` (pixels, clipped to the
            image, rounded as ``mtcnn`` returns them), confidence in [0, 1], and the five
            landmarks' x then y (left eye, right eye, nose, mouth left, mouth right), in
            pixels; rows ranked by confidence.

        Raises:
            BackendError: OpenCV failed to run a network.
        """
        import cv2
        from threadpoolctl import threadpool_limits

        # the heads' small matrix products run faster on one BLAS thread: OpenBLAS's
        # threads spin between calls (137 against 89-104 CPU-ms a 640x360 frame here)
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                return self._detect(images)
            except cv2.error as exc:
                raise BackendError(f"MTCNN on OpenCV failed ({exc})") from None

    def _detect(self, images: np.ndarray) -> list[np.ndarray]:
        import cv2

        batch, height, width = images.shape[:3]
        normalized = (images.astype(np.float32) - MEAN) / SCALE
        proposals = []
        for scale in scale_pyramid(height, width):
            h, w = (int(v) for v in np.asarray([height, width]) * scale)
            outs = [
                self.pnet(
                    np.stack(
                        [
                            cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)
                            for im in normalized[start : start + PNET_IMAGES_PER_CALL]
                        ]
                    )
                )
                for start in range(0, batch, PNET_IMAGES_PER_CALL)
            ]
            offsets, scores = (np.concatenate(parts) for parts in zip(*outs, strict=True))
            proposals.append(_pnet_boxes(offsets, scores[..., 1], scale))
        rows = np.concatenate(proposals) if proposals else np.zeros((0, 6))
        rows = square(suppress(rows, 0.7))
        if len(rows):
            offsets, scores = self.refine("rnet", normalized, rows)
            rows[:, 5] = scores[:, 1]
            rows = regress(rows, offsets)[scores[:, 1] > THRESHOLDS[1]]
            rows = square(suppress(rows, 0.7))
        if len(rows):
            offsets, points, scores = self.refine("onet", normalized, rows)
            w = rows[:, 3:4] - rows[:, 1:2] + 1
            h = rows[:, 4:5] - rows[:, 2:3] + 1
            points = np.concatenate(
                [w * points[:, :5] + rows[:, 1:2] - 1, h * points[:, 5:] + rows[:, 2:3] - 1], 1
            )
            rows[:, 5] = scores[:, 1]
            rows = np.concatenate([regress(rows, offsets), points], axis=1)
            rows = suppress(rows[scores[:, 1] > THRESHOLDS[2]], 0.7, method="min")
        out = []
        for image in range(batch):
            found = rows[rows[:, 0] == image][:, 1:] if len(rows) else np.zeros((0, 15))
            found = found.copy()
            found[:, [0, 2]] = np.clip(found[:, [0, 2]], 0, width - 1)
            found[:, [1, 3]] = np.clip(found[:, [1, 3]], 0, height - 1)
            found[:, :4] = np.round(found[:, :4])
            out.append(found)
        return out


def _pnet_boxes(offsets: np.ndarray, scores: np.ndarray, scale: float) -> np.ndarray:
    """P-Net's cells scoring over its threshold as rows ``[image, x1, y1, x2, y2, score]``
    in pixels of the unscaled image (12-px cells, stride 2, regressed), thinned by NMS
    at IoU 0.5 (``mtcnn.utils.bboxes.generate_bounding_box`` and ``upscale_bboxes``)."""
    image, y, x = np.nonzero(scores > THRESHOLDS[0])
    reg = offsets[image, y, x].T
    x1, y1 = x * 2 + 1, y * 2 + 1
    x2, y2 = x * 2 + 12, y * 2 + 12
    size_w, size_h = x2 - x1, y2 - y1
    rows = np.stack(
        [
            image,
            x1 + reg[0] * size_w,
            y1 + reg[1] * size_h,
            x2 + reg[2] * size_w,
            y2 + reg[3] * size_h,
            scores[image, y, x],
        ],
        axis=1,
    ).astype(np.float64)
    rows = rows[np.argsort(rows[:, 5])[::-1]]
    rows[:, 1:5] /= scale
    return suppress(rows, 0.5, sort=False)


#: The shipped files :class:`MtcnnCascade` reads, relative to
#: :data:`feelinvideo.models.tflite.WEIGHTS`.
FILES = ("mtcnn/pnet.tflite", "mtcnn/rnet.tflite", "mtcnn/onet.tflite", "mtcnn/heads.npz")


def prepare() -> Path:
    """Check the shipped networks (each file's sha256 against the package's manifest) before
    worker processes start, so that a damaged install fails once, here: nothing is made or
    written, no network is loaded and TensorFlow is not imported.

    Returns:
        the folder of the shipped networks.

    Raises:
        BackendError: a shipped file is missing or damaged.
    """
    paths = [tflite.shipped_file(name) for name in FILES]
    return paths[0].parent


def load_cascade() -> MtcnnCascade:
    """The cascade on the shipped networks, checked first (:func:`prepare`).

    Raises:
        BackendError: a shipped file is missing or damaged, or OpenCV cannot read it.
    """
    return MtcnnCascade(prepare())
