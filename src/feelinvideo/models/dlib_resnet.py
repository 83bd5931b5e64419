"""dlib's face descriptor network without dlib: its weights read from dlib's own file, run
in OpenCV's ``dnn``.

The network is dlib's ResNet ``dlib_face_recognition_resnet_model_v1`` (Davis King, 2017;
architecture in dlib's ``examples/dnn_face_recognition_ex.cpp``; weights from the
``face-recognition-models`` wheel, public domain per dlib-models). It maps an aligned 150x150
RGB chip to a 128-d descriptor.

Why not dlib's binding: the ``dlib-bin`` wheel links no BLAS (60-140 ms a chip on this
project's 2-core machine) and holds the GIL for the whole call, which stopped the pipeline's
other threads (a spinning thread ran about 400 times slower during it). Why OpenCV's ``dnn``: the
same weights were run both as a NumPy forward pass (im2col and one OpenBLAS ``float32``
product a convolution) and as this graph in OpenCV, on batches of 1-32 real chips on 2 cores
(``bench/bench_embedding.py --numpy``): OpenCV was the faster at every batch size (about
25 ms a chip against 43-55 ms for NumPy on one BLAS thread, and OpenBLAS's two threads
collapsed under the machine's load), and it releases the GIL while a network runs. Both
gave dlib-bin's descriptors within 4e-7 per element. The graph is handed to OpenCV as ONNX
bytes built in memory (:func:`onnx_model`, a few protobuf messages written directly: the
``onnx`` package would be a dependency for that alone); nothing is written to disk.

The file (dlib's ``serialize`` of the network) is read without dlib: layers are stored
input-first, each named by a versioned string (``con_4``, ``affine_``, ``relu_``,
``max_pool_2``, ``avg_pool_2``, ``add_prev_``, ``fc_2``); integers are dlib's packed
integers (a byte holding the count of bytes that follow, 0x80 set for negatives, then the
bytes little-endian), floats a packed mantissa then a packed exponent, and each tensor its
version (2), ``n, k, nr, nc`` and ``n*k*nr*nc`` little-endian float32 values. What it means:

- input: ``(RGB - mean) / 256`` per channel (the means are in the file);
- convolutions carry their stride and padding (the stride-2 ones have none); each is
  followed by an ``affine_`` layer (batch norm frozen to ``gamma * x + beta``), folded here
  into the convolution's weights and bias;
- a residual block is ``con, affine, relu, con, affine, [avg_pool], add_prev, relu``: the
  block's input (dlib's ``tag1``) is added to its output, through a 2x2 stride-2 average
  pool when the block down-samples; ``add_prev`` adds tensors of different shapes by
  padding the smaller one with zeros (channels, rows and columns, at the end);
- head: an average over all positions (``avg_pool`` of size 0) and ``fc_`` without bias,
  its weights stored as (inputs, outputs).

Reading and building take under 1 s (0.7 s measured), once a process. A file that is cut,
corrupt or of another layout raises :class:`BackendError` naming it.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import BackendError

#: Side in pixels of the chip the network reads.
INPUT_SIZE = 150

_LAYER = re.compile(
    rb"\x01(?:\x05(con_4)|\x07(affine_)|\x05(relu_)|\x0a(max_pool_2)|\x0a(avg_pool_2)"
    rb"|\x09(add_prev_)|\x04(fc_2)|\x15(input_rgb_image_sized)|\x0d(loss_metric_2))"
)


class _Reader:
    """Reads dlib's serialized integers, floats and tensors from bytes, checking bounds."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.path, self.pos = data, path, 0

    def fail(self, what: str) -> BackendError:
        return BackendError(
            f"{self.path}: not a readable dlib face descriptor network ({what} at byte "
            f"{self.pos} of {len(self.data)})"
        )

    def integer(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("file ends inside an integer")
        control = self.data[self.pos]
        size = control & 0x0F
        if control & 0x70 or size > 8 or self.pos + 1 + size > len(self.data):
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def tensor(self) -> tuple[np.ndarray, tuple[int, ...]]:
        version = self.integer()
        if version != 2:
            raise self.fail(f"tensor version {version}, expected 2")
        dims = tuple(self.integer() for _ in range(4))
        count = int(np.prod(dims, dtype=np.int64))
        if min(dims) < 0 or self.pos + 4 * count > len(self.data):
            raise self.fail(f"tensor of shape {dims} runs past the end of the file")
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos += 4 * count
        if not np.isfinite(values).all():
            raise self.fail(f"tensor of shape {dims} holds NaN or infinite values")
        return values, dims


@dataclass
class Conv:
    """One convolution with its batch norm folded in.

    Attributes:
        weights: float32 (size * size * in_channels, out_channels), rows ordered
            ``(row, column, channel)`` (the order of :func:`_im2col`'s columns).
        bias: float32 (out_channels,).
        size, stride, padding: square kernel side, stride and zero padding, in pixels.
    """

    weights: np.ndarray
    bias: np.ndarray
    size: int
    stride: int
    padding: int


@dataclass
class Block:
    """A residual block: ``relu(second(relu(first(x))) + shortcut(x))``; ``pool`` is the
    shortcut's average pool ``(size, stride)``, or None for the identity."""

    first: Conv
    second: Conv
    pool: tuple[int, int] | None


def _read_layers(data: bytes, path: str) -> list[tuple]:
    """The file's layers input-first, as ``(kind, ...)`` tuples with their parameters."""
    reader = _Reader(data, path)
    layers: list[tuple] = []
    while True:
        found = _LAYER.search(data, reader.pos)
        if found is None:
            return layers
        kind = next(g for g in found.groups() if g is not None).decode()
        reader.pos = found.end()
        if kind == "con_4":
            params, _ = reader.tensor()
            shape = [reader.integer() for _ in range(7)]
            layers.append(("con", params, *shape))
        elif kind == "affine_":
            layers.append(("affine", reader.tensor()[0]))
        elif kind in ("max_pool_2", "avg_pool_2"):
            layers.append((kind[:-2], *[reader.integer() for _ in range(6)]))
        elif kind == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            params, _ = reader.tensor()
            layers.append(("fc", params, outputs, inputs))
        elif kind == "input_rgb_image_sized":
            mean = [reader.real() for _ in range(3)]
            layers.append(("input", np.array(mean, np.float32), reader.integer()))
        else:
            layers.append((kind.rstrip("_2"),))


@dataclass
class Network:
    """The network's weights, read from dlib's file by :func:`read_network`.

    Attributes:
        mean: float32 (3,), the RGB values subtracted from the chip (then divided by 256).
        stem: the first convolution (7x7, stride 2), followed by a ReLU and the max pool
            ``stem_pool`` ``(size, stride)``.
        blocks: the residual blocks, input-first.
        fc: float32 (channels, 128), the last layer's weights (no bias), applied to the
            mean over positions of the last block's output.
    """

    mean: np.ndarray
    stem: Conv
    stem_pool: tuple[int, int]
    blocks: list[Block]
    fc: np.ndarray


def read_network(path: str | os.PathLike) -> Network:
    """Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (see the module docstring).

    Raises:
        BackendError: the file is missing, cut, corrupt, or not this kind of network.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise BackendError(f"{path}: cannot read the face descriptor network ({exc})") from None
    return _Builder(str(path)).build(_read_layers(data, str(path)))


class _Builder:
    """Checks the layer sequence of a file and assembles a :class:`Network` from it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.channels = 3

    def fail(self, what: str) -> BackendError:
        return BackendError(f"{self.path}: not a readable dlib face descriptor network ({what})")

    def conv(self, con: tuple, affine: tuple) -> Conv:
        params, filters, rows, cols, stride_y, stride_x, pad_y, pad_x = con[1:]
        count = filters * self.channels * rows * cols
        if rows != cols or stride_y != stride_x or pad_y != pad_x:
            raise self.fail(f"a {rows}x{cols} convolution of strides {stride_y},{stride_x}")
        if len(params) != count + filters or len(affine[1]) != 2 * filters:
            raise self.fail(
                f"a convolution of {len(params)} values for {filters} filters of "
                f"{self.channels}x{rows}x{cols}"
            )
        gamma, beta = affine[1][:filters], affine[1][filters:]
        weights = params[:count].reshape(filters, self.channels, rows, cols)
        weights = weights.transpose(2, 3, 1, 0).reshape(-1, filters) * gamma
        self.channels = filters
        return Conv(
            np.ascontiguousarray(weights, np.float32),
            (params[count:] * gamma + beta).astype(np.float32),
            rows,
            stride_y,
            pad_y,
        )

    def build(self, layers: list[tuple]) -> Network:
        kinds = [layer[0] for layer in layers]
        if "input" not in kinds:
            raise self.fail("no input layer found")
        if kinds[-1] != "fc":
            raise self.fail(f"the file ends after {len(layers)} layers, before the last one")
        layers = layers[kinds.index("input") :]
        mean, size = layers[0][1], layers[0][2]
        if size != INPUT_SIZE:
            raise self.fail(f"input size {size}, expected {INPUT_SIZE}")
        pos = 1

        def take(*names: str) -> list[tuple]:
            nonlocal pos
            got = [layer[0] for layer in layers[pos : pos + len(names)]]
            if got != list(names):
                raise self.fail(f"layers {got} at layer {pos}, expected {list(names)}")
            pos += len(names)
            return layers[pos - len(names) : pos]

        con, affine, _, pool = take("con", "affine", "relu", "max_pool")
        stem = self.conv(con, affine)
        blocks: list[Block] = []
        while layers[pos][0] == "con":
            c1, a1, _, c2, a2 = take("con", "affine", "relu", "con", "affine")
            first, second = self.conv(c1, a1), self.conv(c2, a2)
            shortcut = None
            if layers[pos][0] == "avg_pool":
                shortcut = (layers[pos][1], layers[pos][3])
                pos += 1
            take("add_prev", "relu")
            blocks.append(Block(first, second, shortcut))
        head, fc = take("avg_pool", "fc")
        params, outputs, inputs = fc[1:]
        if head[1] != 0 or inputs != self.channels or len(params) != inputs * outputs:
            raise self.fail(f"a head of {len(params)} values for {inputs}x{outputs}")
        if not blocks:
            raise self.fail("no residual block")
        return Network(mean, stem, (pool[1], pool[3]), blocks, params.reshape(inputs, outputs))


# --- the network as ONNX (protobuf wire format: varint keys, length-delimited messages) ---


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | str | bytes) -> bytes:
    """One protobuf field: an int as a varint, a str or bytes length-delimited."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    if isinstance(value, str):
        value = value.encode()
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _node(op: str, inputs: list[str], output: str, **ints: list[int]) -> bytes:
    """A NodeProto (input 1, output 2, op_type 4, attribute 5: AttributeProto with name 1,
    type 20 = INTS (7), ints 8)."""
    body = b"".join(_field(1, i) for i in inputs) + _field(2, output) + _field(4, op)
    for name, values in ints.items():
        attribute = _field(1, name) + _field(20, 7) + b"".join(_field(8, v) for v in values)
        body += _field(5, attribute)
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    """A TensorProto (dims 1, data_type 2: FLOAT 1 or INT64 7, name 8, raw_data 9)."""
    integer = np.issubdtype(array.dtype, np.integer)
    array = np.ascontiguousarray(array, "<i8" if integer else "<f4")
    dims = b"".join(_field(1, d) for d in array.shape)
    return dims + _field(2, 7 if integer else 1) + _field(8, name) + _field(9, array.tobytes())


def _value_info(name: str, dims: list[int | str]) -> bytes:
    """A float ValueInfoProto (name 1, type 2 > tensor_type 1 > elem_type 1, shape 2 > dim 1
    > dim_value 1 or dim_param 2)."""
    shape = b"".join(_field(1, _field(2 if isinstance(d, str) else 1, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))


def onnx_model(network: Network) -> bytes:
    """The network as an ONNX model (opset 13, IR version 8): input ``"input"`` float32
    (N, 3, 150, 150), the chip already normalised (``(RGB - mean) / 256``, channels first);
    output ``"output"`` float32 (N, 128)."""
    nodes: list[bytes] = []
    inits: list[bytes] = []
    shape = [3, INPUT_SIZE, INPUT_SIZE]  # channels, rows, columns of the current tensor

    def new(prefix: str) -> str:
        return f"{prefix}{len(nodes) + len(inits)}"

    def pooled(side: int, size: int, stride: int, padding: int = 0) -> int:
        return (side + 2 * padding - size) // stride + 1

    def conv(x: str, c: Conv) -> str:
        w = c.weights.reshape(c.size, c.size, -1, c.weights.shape[1]).transpose(3, 2, 0, 1)
        wn, bn, out = new("w"), new("b"), new("conv")
        inits.extend([_tensor(wn, w), _tensor(bn, c.bias)])
        p, k, s = c.padding, c.size, c.stride
        nodes.append(
            _node("Conv", [x, wn, bn], out, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)
        )
        shape[:] = [w.shape[0], pooled(shape[1], k, s, p), pooled(shape[2], k, s, p)]
        return out

    def op(kind: str, x: str, **ints: list[int]) -> str:
        out = new(kind.lower())
        nodes.append(_node(kind, [x], out, **ints))
        return out

    def pad(x: str, have: list[int], want: list[int]) -> str:
        if have == want:
            return x
        pads, out = new("pads"), new("pad")
        ends = [w - h for h, w in zip(have, want, strict=True)]
        inits.append(_tensor(pads, np.array([0, 0, 0, 0, 0, *ends], np.int64)))
        nodes.append(_node("Pad", [x, pads], out))
        return out

    x = op("Relu", conv("input", network.stem))
    k, s = network.stem_pool
    x = op("MaxPool", x, kernel_shape=[k, k], strides=[s, s])
    shape[1:] = [pooled(shape[1], k, s), pooled(shape[2], k, s)]
    for block in network.blocks:
        short, short_shape = x, list(shape)
        if block.pool is not None:
            k, s = block.pool
            short = op("AveragePool", x, kernel_shape=[k, k], strides=[s, s])
            short_shape[1:] = [pooled(shape[1], k, s), pooled(shape[2], k, s)]
        y = conv(op("Relu", conv(x, block.first)), block.second)
        want = [max(a, b) for a, b in zip(shape, short_shape, strict=True)]
        added = new("add")
        nodes.append(_node("Add", [pad(y, shape, want), pad(short, short_shape, want)], added))
        shape[:] = want
        x = op("Relu", added)
    x = op("Flatten", op("GlobalAveragePool", x))
    inits.append(_tensor("fc", network.fc))
    nodes.append(_node("MatMul", [x, "fc"], "output"))
    graph = (
        b"".join(_field(1, n) for n in nodes)
        + _field(2, "dlib_face_recognition_resnet_model_v1")
        + b"".join(_field(5, t) for t in inits)
        + _field(11, _value_info("input", ["N", 3, INPUT_SIZE, INPUT_SIZE]))
        + _field(12, _value_info("output", ["N", network.fc.shape[1]]))
    )
    opset = _field(1, "") + _field(2, 13)
    return _field(1, 8) + _field(2, "feelinvideo") + _field(7, graph) + _field(8, opset)


class DescriptorNetwork:
    """dlib's descriptor network read from its ``.dat`` file, run in OpenCV's ``dnn``
    (thread-safe: one call at a time; OpenCV releases the GIL while it runs).

    Args:
        path: dlib's ``dlib_face_recognition_resnet_model_v1.dat``.

    Raises:
        BackendError: the file is missing, cut, corrupt, or not this kind of network, or
            OpenCV cannot build it.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import cv2

        self.path = str(path)
        self.network = read_network(path)
        try:
            model = np.frombuffer(onnx_model(self.network), np.uint8)
            self._net = cv2.dnn.readNetFromONNX(model)
        except cv2.error as exc:
            raise BackendError(f"{path}: OpenCV cannot build the network ({exc})") from None
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Length of the descriptor (128)."""
        return self.network.fc.shape[1]

    def compute(self, chips: np.ndarray, batch: int = 16) -> np.ndarray:
        """Descriptors of aligned chips, ``batch`` chips a network pass.

        Args:
            chips: uint8 (N, 150, 150, 3), RGB (:func:`feelinvideo.models.dlib.face_chips`).
            batch: chips a pass (about 8 MB of memory a chip).

        Returns:
            float64 (N, 128): dlib's ``compute_face_descriptor`` values within about 1e-6
            (not unit-normalised: norms are about 1.4).

        Raises:
            ValueError: ``chips`` is not (N, 150, 150, 3).
        """
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"chips must be (N, 150, 150, 3), got {chips.shape}")
        out = np.empty((len(chips), self.size), np.float64)
        for start in range(0, len(chips), batch):
            part = chips[start : start + batch].astype(np.float32)
            part = (part - self.network.mean) * np.float32(1 / 256)
            blob = np.ascontiguousarray(part.transpose(0, 3, 1, 2))
            with self._lock:
                self._net.setInput(blob)
                out[start : start + len(part)] = self._net.forward()
        return out
