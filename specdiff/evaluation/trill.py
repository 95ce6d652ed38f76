"""TRILL embeddings (optional): a local TF SavedModel run with TensorFlow (+ tensorflow_hub).

TensorFlow is not a specdiff dependency; install it in an environment of its own. Nothing here
downloads: the model is a directory holding the SavedModel of
https://tfhub.dev/google/nonsemantic-speech-benchmark/trill/3 (unverified against the paper's
exact numbers, since the TF-Hub call is reproduced from the official postprocessors).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from specdiff.errors import SpecdiffError

TRILL_MODEL_ENV = "SPECDIFF_TRILL_MODEL"
TRILL_HUB_URL = "https://tfhub.dev/google/nonsemantic-speech-benchmark/trill/3"
SAMPLE_RATE = 16000


def resolve_trill_model(path: str | os.PathLike | None = None) -> Path:
    """The SavedModel directory from ``path`` or $SPECDIFF_TRILL_MODEL; SpecdiffError if missing."""
    chosen = path or os.environ.get(TRILL_MODEL_ENV)
    how = (
        f"download and unpack the SavedModel from {TRILL_HUB_URL}?tf-hub-format=compressed and "
        f"pass its directory with --trill-model or ${TRILL_MODEL_ENV}"
    )
    if not chosen:
        raise SpecdiffError(f"TRILL model not given: {how}")
    chosen = Path(chosen).expanduser()
    if not (chosen / "saved_model.pb").is_file():
        raise SpecdiffError(f"{chosen}: no TF SavedModel (saved_model.pb) there; {how}")
    return chosen


class TrillEmbedder:
    """TRILL ``embedding`` output on prepared 16 kHz audio -> (T, 512), one per ~0.167 s."""

    name = "trill"

    def __init__(self, model, identity: str):
        self.model = model
        self.identity = f"trill-{identity}"

    @classmethod
    def from_dir(cls, path: str | os.PathLike | None = None) -> "TrillEmbedder":
        model_dir = resolve_trill_model(path)
        try:
            import tensorflow as tf  # noqa: F401
            import tensorflow_hub as hub
        except ImportError:
            raise SpecdiffError(
                "TRILL needs TensorFlow: pip install tensorflow tensorflow_hub (in a separate "
                "environment is fine; specdiff itself does not need them)"
            ) from None
        try:
            model = hub.load(str(model_dir))
        except Exception as error:
            raise SpecdiffError(
                f"{model_dir}: cannot load the TRILL SavedModel ({error})"
            ) from None
        stat = (model_dir / "saved_model.pb").stat()
        return cls(model, f"{stat.st_size}-{int(stat.st_mtime)}")

    def embed(self, audio_16k: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        x = tf.constant(np.asarray(audio_16k, np.float32)[None])  # (1, n)
        out = self.model(samples=x, sample_rate=SAMPLE_RATE)["embedding"].numpy()
        return np.asarray(out, np.float32).reshape(-1, out.shape[-1])  # (T, 512)
