"""Loading shipped model weights: quiet, lazy TensorFlow start-up and files inside installed
packages (never imported at package import)."""

from __future__ import annotations

import logging
import os
import sys
import warnings


def quiet_tensorflow() -> None:
    """Silence TensorFlow/Keras/absl start-up chatter before the first TF import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    # TensorFlow's C++ start-up lines ("oneDNN custom operations are on", absl's
    # "before InitializeLog") ignore TF_CPP_MIN_LOG_LEVEL: hide fd 2 while it imports.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def package_file(package: str, *parts: str) -> str:
    """Path of a data file inside an installed package, found without importing it.

    Used for model weights that ship inside registry packages (fer, face-recognition-models),
    whose ``__init__`` would otherwise pull in heavy or broken imports (``pkg_resources``).

    Raises:
        FileNotFoundError: the package is not installed or lacks the file.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed")
    for base in spec.submodule_search_locations:
        candidate = Path(base, *parts)
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(f"package {package!r} has no file {'/'.join(parts)}")
