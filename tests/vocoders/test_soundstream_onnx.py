"""The ONNX vocoder path, with a tiny model that has the official input/output contract."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from specdiff.errors import SpecdiffError
from specdiff.vocoders import SoundStreamOnnx, load_vocoder
from specdiff.vocoders.testing import build_tiny_onnx_vocoder, tiny_vocoder_reference

pytest.importorskip("onnx")


def _mel(batch: int, frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-11.5, 2.0, size=(batch, frames, 128)).astype(np.float32)


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_onnx_vocoder_matches_the_model(tmp_path, dynamic_batch):
    path = build_tiny_onnx_vocoder(tmp_path / "model.onnx", dynamic_batch=dynamic_batch)
    vocoder = SoundStreamOnnx(path)
    assert vocoder.dynamic_batch is dynamic_batch
    assert vocoder.sample_rate == 16000 and vocoder.hop_length == 320
    mel = _mel(3, 7)
    audio = vocoder(torch.from_numpy(mel))
    assert audio.shape == (3, 7 * 320) and audio.dtype == torch.float32
    np.testing.assert_allclose(audio.numpy(), tiny_vocoder_reference(mel), atol=1e-5)
    # unbatched input, numpy input, and the batch looped one by one agree
    single = vocoder(mel[1])
    assert single.shape == (7 * 320,)
    torch.testing.assert_close(single, audio[1], rtol=0, atol=1e-5)
    assert vocoder(np.zeros((1, 0, 128), np.float32)).shape == (1, 0)


def test_load_vocoder_resolves_the_hub_layout(tmp_path):
    build_tiny_onnx_vocoder(tmp_path / "model" / "melgan" / "model.onnx")
    by_folder = load_vocoder(tmp_path / "model")
    by_file = load_vocoder(str(tmp_path / "model" / "melgan" / "model.onnx"))
    assert isinstance(by_folder, SoundStreamOnnx) and isinstance(by_file, SoundStreamOnnx)
    mel = torch.from_numpy(_mel(1, 4))
    torch.testing.assert_close(by_folder(mel), by_file(mel))


def test_bad_onnx_files_give_clear_errors(tmp_path):
    with pytest.raises(SpecdiffError, match="no such ONNX vocoder file"):
        SoundStreamOnnx(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(SpecdiffError, match="garbage.onnx: not a loadable ONNX model"):
        SoundStreamOnnx(garbage)
    wrong_name = build_tiny_onnx_vocoder(tmp_path / "wrong_name.onnx", input_name="x")
    with pytest.raises(SpecdiffError, match="expected one input named 'input_features'"):
        SoundStreamOnnx(wrong_name)
    wrong_hop = SoundStreamOnnx(build_tiny_onnx_vocoder(tmp_path / "hop.onnx", hop_length=100))
    with pytest.raises(SpecdiffError, match="produced 400 samples for 4 frames, expected 1280"):
        wrong_hop(_mel(1, 4))


def test_onnxruntime_is_imported_lazily():
    code = "import sys, specdiff, specdiff.vocoders; assert 'onnxruntime' not in sys.modules"
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)
