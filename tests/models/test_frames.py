"""Frames as a detector sees them: scaled once, batched by size, results in input order."""

from __future__ import annotations

import numpy as np

from feelinvideo.models.frames import per_size, scaled


def test_per_size_runs_once_a_size_and_keeps_the_order():
    images = [np.full((4, 6, 3), k, np.uint8) for k in range(3)]
    images.insert(1, np.full((2, 2, 3), 9, np.uint8))  # another size between them
    calls = []

    def run(stack):
        calls.append(stack.shape)
        return [int(image[0, 0, 0]) for image in stack]

    assert per_size(run, images) == [0, 9, 1, 2]
    assert calls == [(3, 4, 6, 3), (1, 2, 2, 3)]


def test_scaled_keeps_at_least_a_pixel_and_leaves_scale_one_alone():
    image = np.zeros((5, 40, 3), np.uint8)
    assert scaled([image], 1.0)[0] is image
    assert scaled([image], 0.1)[0].shape == (1, 4, 3)
