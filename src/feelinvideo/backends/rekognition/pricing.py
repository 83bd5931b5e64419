"""What an ``analyze --backend rekognition`` run would cost: the ``--dry-run`` estimate.

Needs neither boto3 nor credentials and calls nothing: it probes the video, counts the
frames ``--every`` would sample (one ``DetectFaces`` call each) and prices them at the
published per-image price.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Published price per image of DetectFaces (Group 2 API) and SearchFacesByImage / IndexFaces
#: (Group 1 APIs), US$ per image for the first 1 million images a month, US East (N. Virginia):
#: US$0.001 for both groups. Source: https://aws.amazon.com/rekognition/pricing/ (as listed in
#: 2024-2025; later tiers are cheaper, other regions may differ, the free tier is ignored).
#: Used only by ``--dry-run``; check the page before budgeting.
PRICE_PER_IMAGE_USD = 0.001
PRICE_SOURCE = "https://aws.amazon.com/rekognition/pricing/ (first 1M images/month, us-east-1)"


@dataclass
class DryRunPlan:
    """What an ``analyze --backend rekognition`` run would call, and what it would cost.

    Attributes:
        video: the video's file name.
        duration_s: its duration in seconds.
        every_s: sampling interval in seconds.
        sampled_frames: frames that would be sampled (one ``DetectFaces`` call each).
        detect_calls: ``DetectFaces`` calls.
        collection: face collection searched (at most one ``SearchFacesByImage`` call per
            face found, unknown before the run), or None.
        price_per_image_usd: US$ per image, :data:`PRICE_PER_IMAGE_USD`.
    """

    video: str
    duration_s: float
    every_s: float
    sampled_frames: int
    detect_calls: int
    collection: str | None = None
    price_per_image_usd: float = PRICE_PER_IMAGE_USD

    @property
    def detect_cost_usd(self) -> float:
        """US$ for the ``DetectFaces`` calls at the published per-image price."""
        return self.detect_calls * self.price_per_image_usd

    def describe(self) -> str:
        """The plan as human lines for stdout (calls, cost, price source)."""
        price = self.price_per_image_usd
        lines = [
            f"dry run: {self.video}, {self.duration_s:.1f} s sampled every {self.every_s:g} s "
            f"-> {self.sampled_frames} frames",
            f"DetectFaces: {self.detect_calls} calls, US${self.detect_cost_usd:.3f} "
            f"at US${price:g} per image",
        ]
        if self.collection:
            lines.append(
                f"SearchFacesByImage (collection {self.collection}): at most 1 call per face "
                f"found, US${price:g} each (e.g. {self.detect_calls} calls, "
                f"US${self.detect_cost_usd:.3f}, at one face per frame)"
            )
        lines.append(f"price source: {PRICE_SOURCE}")
        lines.append("nothing was called and nothing was written")
        return "\n".join(lines)


def dry_run_plan(
    video_path: str | os.PathLike, every_s: float, collection: str | None = None
) -> DryRunPlan:
    """Plan an ``analyze --backend rekognition`` run without calling AWS or needing boto3.

    Args:
        video_path: the video.
        every_s: sampling interval in seconds (0 = every frame).
        collection: the face collection ``--collection`` names, or None.

    Raises:
        VideoError: the video is missing or not a video.
    """
    from ...video import estimate_sampled_frames, probe

    info = probe(video_path)
    frames = estimate_sampled_frames(info.duration_s, info.fps, info.frame_count, every_s)
    return DryRunPlan(Path(video_path).name, info.duration_s, every_s, frames, frames, collection)
