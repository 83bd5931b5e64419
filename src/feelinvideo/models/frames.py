"""Frames as a face detector sees them: scaled once, and handed over in batches of one size.

Both detectors (:mod:`.mtcnn`, :mod:`.yunet`) scale frames so that the smallest face wanted
becomes their own minimum, and batch frames of one size (a video's frames share it; photos
being enrolled do not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def scaled(images: Sequence[np.ndarray], scale: float) -> list[np.ndarray]:
    """The images (H, W, C) resized by ``scale`` (0, 1] with area averaging (OpenCV's
    ``INTER_AREA``), each side at least 1 px; the images themselves when ``scale`` is 1."""
    if scale >= 1.0:
        return list(images)
    import cv2

    out = []
    for image in images:
        h, w = image.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    return out


def per_size(run: Callable[[np.ndarray], Sequence[T]], images: Sequence[np.ndarray]) -> list[T]:
    """``run`` once per group of same-size images, stacked (N, H, W, C) uint8 in input
    order; its N results per call are returned in the images' order."""
    groups: dict[tuple, list[int]] = {}
    for k, image in enumerate(images):
        groups.setdefault(image.shape, []).append(k)
    out: list = [None] * len(images)
    for indices in groups.values():
        stack = np.ascontiguousarray(np.stack([images[k] for k in indices]), dtype=np.uint8)
        for k, result in zip(indices, run(stack), strict=True):
            out[k] = result
    return out
