"""TRILL is optional: without a model or TensorFlow the user gets a message saying what to do."""

import pytest

from specdiff.errors import SpecdiffError
from specdiff.evaluation import TrillEmbedder


def test_missing_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SPECDIFF_TRILL_MODEL", raising=False)
    with pytest.raises(SpecdiffError, match="tfhub.dev/google/nonsemantic-speech-benchmark/trill"):
        TrillEmbedder.from_dir(None)
    with pytest.raises(SpecdiffError, match="no TF SavedModel"):
        TrillEmbedder.from_dir(tmp_path)


def test_unloadable_model_or_missing_tensorflow_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "saved_model.pb").write_bytes(b"not a model")
    monkeypatch.setenv("SPECDIFF_TRILL_MODEL", str(tmp_path))
    # without TensorFlow (the default environment): how to install it; with it: cannot load
    with pytest.raises(SpecdiffError, match="pip install tensorflow|cannot load"):
        TrillEmbedder.from_dir()
