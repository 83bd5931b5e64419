"""Draw the seven emotion emoji PNGs shipped in ``src/feelinvideo/emoji/`` (project-made art).

Run: python scripts/draw_emoji.py  — rewrites the 256x256 RGBA PNGs with OpenCV primitives.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 256
SS = 4  # supersampling factor for smooth edges
OUT = Path(__file__).resolve().parents[1] / "src" / "feelinvideo" / "emoji"

# face fill colours, RGB
FILL = {
    "angry": (235, 80, 60),
    "disgust": (150, 200, 80),
    "fear": (170, 200, 240),
    "happy": (255, 204, 77),
    "sad": (255, 204, 77),
    "surprise": (255, 204, 77),
    "neutral": (255, 204, 77),
}
INK = (70, 45, 20)


def p(x: float, y: float) -> tuple[int, int]:
    return int(x * SIZE * SS), int(y * SIZE * SS)


def r(v: float) -> int:
    return int(v * SIZE * SS)


def draw(emotion: str) -> np.ndarray:
    big = SIZE * SS
    rgba = np.zeros((big, big, 4), np.uint8)
    img = np.ascontiguousarray(rgba[:, :, :3])
    alpha = np.zeros((big, big), np.uint8)
    cv2.circle(alpha, p(0.5, 0.5), r(0.47), 255, -1)
    cv2.circle(img, p(0.5, 0.5), r(0.47), FILL[emotion], -1)
    cv2.circle(img, p(0.5, 0.5), r(0.47), INK, r(0.025))
    th = r(0.035)
    if emotion == "happy":
        for x in (0.35, 0.65):
            cv2.ellipse(img, p(x, 0.40), (r(0.07), r(0.06)), 0, 180, 360, INK, th)
        cv2.ellipse(img, p(0.5, 0.58), (r(0.25), r(0.2)), 0, 0, 180, (120, 30, 30), -1)
        cv2.ellipse(img, p(0.5, 0.58), (r(0.25), r(0.2)), 0, 0, 180, INK, th)
        cv2.line(img, p(0.25, 0.58), p(0.75, 0.58), INK, th)
    elif emotion == "sad":
        for x in (0.35, 0.65):
            cv2.circle(img, p(x, 0.42), r(0.045), INK, -1)
        cv2.line(img, p(0.25, 0.33), p(0.4, 0.29), INK, th)
        cv2.line(img, p(0.75, 0.33), p(0.6, 0.29), INK, th)
        cv2.ellipse(img, p(0.5, 0.78), (r(0.18), r(0.12)), 0, 200, 340, INK, th)
        cv2.ellipse(img, p(0.68, 0.58), (r(0.04), r(0.07)), 0, 0, 360, (80, 160, 240), -1)
    elif emotion == "angry":
        cv2.line(img, p(0.24, 0.30), p(0.43, 0.38), INK, th)
        cv2.line(img, p(0.76, 0.30), p(0.57, 0.38), INK, th)
        for x in (0.36, 0.64):
            cv2.circle(img, p(x, 0.46), r(0.045), INK, -1)
        cv2.ellipse(img, p(0.5, 0.78), (r(0.17), r(0.09)), 0, 200, 340, INK, th)
    elif emotion == "disgust":
        cv2.line(img, p(0.26, 0.40), p(0.44, 0.42), INK, th)
        cv2.line(img, p(0.56, 0.42), p(0.74, 0.40), INK, th)
        pts = np.array([p(0.3, 0.70), p(0.4, 0.64), p(0.5, 0.70), p(0.6, 0.64), p(0.7, 0.70)])
        cv2.polylines(img, [pts], False, INK, th)
    elif emotion == "fear":
        for x in (0.35, 0.65):
            cv2.circle(img, p(x, 0.42), r(0.08), (255, 255, 255), -1)
            cv2.circle(img, p(x, 0.42), r(0.08), INK, r(0.015))
            cv2.circle(img, p(x, 0.42), r(0.03), INK, -1)
        cv2.ellipse(img, p(0.5, 0.72), (r(0.14), r(0.08)), 0, 0, 360, INK, -1)
        cv2.ellipse(img, p(0.5, 0.70), (r(0.12), r(0.03)), 0, 0, 360, (255, 255, 255), -1)
    elif emotion == "surprise":
        for x in (0.35, 0.65):
            cv2.circle(img, p(x, 0.40), r(0.05), INK, -1)
            cv2.ellipse(img, p(x, 0.30), (r(0.08), r(0.04)), 0, 180, 360, INK, th)
        cv2.ellipse(img, p(0.5, 0.70), (r(0.09), r(0.12)), 0, 0, 360, (120, 30, 30), -1)
        cv2.ellipse(img, p(0.5, 0.70), (r(0.09), r(0.12)), 0, 0, 360, INK, th)
    elif emotion == "neutral":
        for x in (0.35, 0.65):
            cv2.circle(img, p(x, 0.42), r(0.05), INK, -1)
        cv2.line(img, p(0.33, 0.70), p(0.67, 0.70), INK, th)
    rgba[:, :, :3] = img
    rgba[:, :, 3] = alpha
    small = cv2.resize(rgba, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGBA2BGRA)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name in FILL:
        cv2.imwrite(str(OUT / f"{name}.png"), draw(name))
        print(OUT / f"{name}.png")
