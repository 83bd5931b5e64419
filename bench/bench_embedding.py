"""Benchmark: face embedding ms a chip, dlib-bin's binding against the NumPy network, same run.

Chips: the aligned 150x150 chips (MTCNN's largest face, dlib's 5-point alignment) of the
real photos in ../shared/data/face_recognition (knn_examples train and test, obama, biden,
two_people), repeated to fill the largest batch. Each round times every runtime on every
batch size (interleaved, so that the machine's load hits all alike); the figures are the
median over rounds of ms a chip, and the ratio dlib-bin / runtime within each round.

Runtimes:

- ``dlib-bin``: ``dlib.face_recognition_model_v1.compute_face_descriptor`` on the list of
  chips (what feelinvideo ran before; it links no BLAS and uses one core);
- ``opencv``: :class:`feelinvideo.models.dlib_resnet.DescriptorNetwork`, what feelinvideo
  runs now: the same weights as an ONNX graph read by ``cv2.dnn.readNetFromONNX``
  (OpenCV's thread pool, all cores); ``opencv-1`` the same on one OpenCV thread, as
  ``analyze`` runs it on 2 cores with identity on;
- with ``--numpy``, the alternative it was chosen over: the same network as a NumPy forward
  pass (:class:`NumpyRuntime`), with BLAS's default threads (``numpy``) and one thread
  (``numpy-1``).

It also prints the largest difference from dlib-bin's descriptors, and a spinning Python
thread's rate during each runtime's calls against its rate while the main thread sleeps:
the share of the GIL a call leaves to the pipeline's other threads (a 2-core machine also
halves it when the call keeps both cores busy).

Usage: python bench/bench_embedding.py [--batches 1 16] [--rounds 5] [--numpy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FEELINVIDEO_DATA", ROOT.parent / "shared" / "data"))


def real_chips() -> np.ndarray:
    """uint8 (N, 150, 150, 3) chips of the largest face of each shared photo."""
    from feelinvideo.galleries.enroll import load_photo
    from feelinvideo.models.dlib import face_chips
    from feelinvideo.models.mtcnn import MtcnnDetector

    photos = sorted((DATA / "face_recognition").rglob("*.jpg"))
    if not photos:
        sys.exit(f"no photos under {DATA / 'face_recognition'} (../shared/data is absent)")
    detector = MtcnnDetector()
    chips = []
    for path in photos:
        image = load_photo(path)
        faces = detector.detect([image])[0]
        if len(faces):
            chips.append(face_chips(image, faces.xyxy[[int(np.argmax(faces.area))]])[0])
    return np.stack(chips)


# --- the alternative measured against OpenCV's dnn: the same network in NumPy ---


class OneThread:
    """A runtime with OpenCV on one thread, as during ``analyze`` on 2 cores with identity
    on (:func:`feelinvideo.stream._opencv_threads`)."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def compute(self, chips: np.ndarray) -> np.ndarray:
        import cv2

        before = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            return self.runtime.compute(chips)
        finally:
            cv2.setNumThreads(before)


class NumpyRuntime:
    """The network as a NumPy forward pass: im2col then one float32 matrix product (NumPy's
    BLAS) a convolution, batch norms folded in; ``threads`` BLAS threads (None: BLAS's
    default, all cores)."""

    def __init__(self, network, threads: int | None = None) -> None:
        self.network = network
        self.threads = threads

    def compute(self, chips: np.ndarray, batch: int = 16) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        out = []
        with threadpool_limits(self.threads):
            for start in range(0, len(chips), batch):
                out.append(self._forward(chips[start : start + batch]))
        return np.concatenate(out).astype(np.float64)

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        net = self.network
        x = (chips.astype(np.float32) - net.mean) * np.float32(1 / 256)
        x = _relu(_conv(x, net.stem))
        x = _max_pool(x, *net.stem_pool)
        for block in net.blocks:
            y = _conv(_relu(_conv(x, block.first)), block.second)
            shortcut = x if block.pool is None else _avg_pool(x, *block.pool)
            x = _relu(_add_padded(y, shortcut))
        return x.mean(axis=(1, 2)) @ net.fc


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _im2col(x: np.ndarray, size: int, stride: int, padding: int) -> np.ndarray:
    """float32 (N, H', W', size * size * C): each output position's input window, columns
    ordered ``(row, column, channel)``, from x (N, H, W, C) zero-padded by ``padding``."""
    n, h, w, c = x.shape
    if padding:
        padded = np.zeros((n, h + 2 * padding, w + 2 * padding, c), np.float32)
        padded[:, padding : padding + h, padding : padding + w] = x
        x, h, w = padded, h + 2 * padding, w + 2 * padding
    rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.empty((n, rows, cols, size, size, c), np.float32)
    for dy in range(size):
        for dx in range(size):
            out[:, :, :, dy, dx] = x[
                :,
                dy : dy + stride * (rows - 1) + 1 : stride,
                dx : dx + stride * (cols - 1) + 1 : stride,
            ]
    return out.reshape(n, rows, cols, size * size * c)


def _conv(x: np.ndarray, conv) -> np.ndarray:
    cols = _im2col(x, conv.size, conv.stride, conv.padding)
    out = cols.reshape(-1, cols.shape[-1]) @ conv.weights
    out += conv.bias
    return out.reshape(*cols.shape[:3], -1)


def _windows(x: np.ndarray, size: int, stride: int) -> list[np.ndarray]:
    rows, cols = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    return [
        x[:, dy : dy + stride * (rows - 1) + 1 : stride, dx : dx + stride * (cols - 1) + 1 : stride]
        for dy in range(size)
        for dx in range(size)
    ]


def _max_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    windows = _windows(x, size, stride)
    out = windows[0].copy()
    for window in windows[1:]:
        np.maximum(out, window, out=out)
    return out


def _avg_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    windows = _windows(x, size, stride)
    out = windows[0].copy()
    for window in windows[1:]:
        out += window
    return out * np.float32(1 / len(windows))


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b``, the smaller padded with zeros at the end of each axis (dlib's add_prev)."""
    if a.shape == b.shape:
        a += b
        return a
    out = np.zeros(tuple(max(p, q) for p, q in zip(a.shape, b.shape, strict=True)), np.float32)
    out[tuple(slice(0, d) for d in a.shape)] = a
    out[tuple(slice(0, d) for d in b.shape)] += b
    return out


# --- measuring ---


class Spinner:
    """A thread counting loop iterations, to see how much of the GIL a call leaves."""

    def __init__(self) -> None:
        self.count = 0
        self.running = True
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.running:
            self.count += 1

    def rate(self, work) -> float:
        """Iterations a second while ``work()`` runs."""
        start, t0 = self.count, time.perf_counter()
        work()
        return (self.count - start) / (time.perf_counter() - t0)

    def stop(self) -> None:
        self.running = False
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--numpy", action="store_true", help="also time the NumPy forward pass")
    args = parser.parse_args()

    import cv2

    from feelinvideo.models.dlib import DlibBinding, _model_path
    from feelinvideo.models.dlib_resnet import DescriptorNetwork

    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
    t0 = time.perf_counter()
    net = DescriptorNetwork(_model_path("encoder"))
    print(f"network read from the .dat and built in {time.perf_counter() - t0:.2f} s")
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    runtimes = {"dlib-bin": DlibBinding(), "opencv": net, "opencv-1": OneThread(net)}
    if args.numpy:
        runtimes["numpy"] = NumpyRuntime(net.network)
        runtimes["numpy-1"] = NumpyRuntime(net.network, threads=1)
    chips = real_chips()
    print(f"{len(chips)} real chips")
    reference = runtimes["dlib-bin"].compute(chips)
    for name, runtime in runtimes.items():
        diff = np.abs(runtime.compute(chips) - reference).max()
        print(f"{name}: largest difference from dlib-bin {diff:.2e}")
    big = np.concatenate([chips] * (max(args.batches) // len(chips) + 1))

    ms: dict[tuple[str, int], list[float]] = {}
    ratio: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for batch in args.batches:
            got = {}
            for name, runtime in runtimes.items():
                # at least 16 chips a measurement: batch 1 as 16 calls of one chip
                calls = max(1, 16 // batch)
                t0 = time.perf_counter()
                for k in range(calls):
                    runtime.compute(big[k * batch : (k + 1) * batch])
                got[name] = (time.perf_counter() - t0) * 1000 / (calls * batch)
                ms.setdefault((name, batch), []).append(got[name])
            for name in runtimes:
                ratio.setdefault((name, batch), []).append(got["dlib-bin"] / got[name])
    print("\nms a chip (median of rounds), speed-up against dlib-bin in the same round:")
    for batch in args.batches:
        cells = [
            f"{name} {statistics.median(ms[name, batch]):.1f} ms "
            f"({statistics.median(ratio[name, batch]):.2f}x)"
            for name in runtimes
        ]
        print(f"  batch {batch:2d}: " + ", ".join(cells))

    spinner = Spinner()
    idle = spinner.rate(lambda: time.sleep(1.0))
    print(f"\nspinning thread: {idle / 1e6:.2f} M iterations/s while the caller sleeps")
    batch = max(args.batches)
    for name, runtime in runtimes.items():
        during = spinner.rate(lambda r=runtime: [r.compute(big[:batch]) for _ in range(2)])
        print(
            f"  during {name} (batch {batch}): {during / 1e6:.2f} M/s = {idle / during:.1f}x slower"
        )
    spinner.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
