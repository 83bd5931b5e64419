#!/usr/bin/env bash
# One command: set up a virtual environment, fetch the real sample video, analyse it.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/feelinvideo ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
fi
video=$(.venv/bin/python sample_videos/fetch_sample.py)
.venv/bin/feelinvideo analyze "$video" --out demo_output "$@"
echo "open demo_output/overlay.mp4 and demo_output/faces.csv" >&2
