"""load_vocoder: names, paths, reserved names and errors."""

from __future__ import annotations

import pytest
import torch

from specdiff.errors import SpecdiffError
from specdiff.vocoders import GriffinLim, Vocoder, load_vocoder, register_vocoder, vocoder_names


def test_names_and_aliases():
    assert "griffin-lim" in vocoder_names()
    for name in ("griffin-lim", "Griffin-Lim", "griffinlim", "gl"):
        assert isinstance(load_vocoder(name), GriffinLim)
    assert load_vocoder("griffin-lim", n_iter=3).n_iter == 3
    vocoder = GriffinLim()
    assert load_vocoder(vocoder) is vocoder


def test_specdiff_names_the_shipped_neural_vocoder():
    from specdiff.vocoders.neural import ASSET, NeuralVocoder

    assert "specdiff" in vocoder_names()
    if ASSET.is_file():
        assert isinstance(load_vocoder("specdiff"), NeuralVocoder)
    else:
        with pytest.raises(SpecdiffError, match="vocoder weights are missing"):
            load_vocoder("specdiff")


def test_unknown_and_bad_paths(tmp_path):
    with pytest.raises(SpecdiffError, match="vocoder 'wavenet': unknown; expected one of"):
        load_vocoder("wavenet")
    with pytest.raises(SpecdiffError, match="no vocoder in this folder"):
        load_vocoder(tmp_path)
    text = tmp_path / "vocoder.txt"
    text.write_text("hi")
    with pytest.raises(SpecdiffError, match="vocoder.txt: not a vocoder; expected an .onnx file"):
        load_vocoder(text)


def test_registered_factories_are_used(monkeypatch):
    from specdiff.vocoders import registry

    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    class Silence(Vocoder):
        def decode(self, mel: torch.Tensor) -> torch.Tensor:
            return mel.new_zeros(mel.shape[0], mel.shape[1] * self.hop_length)

    register_vocoder("silence-for-test", lambda device=None: Silence())
    audio = load_vocoder("silence-for-test")(torch.zeros(2, 5, 128))
    assert audio.shape == (2, 1600) and not audio.any()
    with pytest.raises(ValueError, match="mel must be"):
        Silence()(torch.zeros(2, 5, 64))
