"""`specdiff synth --model port.ckpt`: the port's codec, scaler and first context, in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from midi_files import write_midi

from specdiff.cli import main
from specdiff.diffusion import SamplerConfig
from specdiff.models import SpectrogramDiffusion

PORT = Path(__file__).resolve().parents[1] / "fixtures" / "port"
# (channel, program, pitch, velocity, start s, end s): piano, bass and strings over two 5.12 s
# segments
NOTES = [(0, 0, 60, 100, 0.0, 1.0), (0, 0, 64, 100, 0.5, 6.0), (1, 33, 40, 100, 1.0, 2.5),
         (2, 48, 67, 100, 4.9, 6.3)]
SHORT = [(0, 0, 60, 100, 0.0, 1.0), (1, 33, 40, 100, 0.5, 2.0)]  # one segment: CLI vocodes less


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "song.mid", NOTES)


@pytest.fixture(scope="module")
def short_midi(tmp_path_factory) -> Path:
    return write_midi(tmp_path_factory.mktemp("midi") / "short.mid", SHORT)


def test_synth_with_the_port_context_model(short_midi, tmp_path, capsys):
    import soundfile as sf

    wav, mel = tmp_path / "out.wav", tmp_path / "mel.npy"
    assert main(["synth", str(short_midi), "--model", str(PORT / "tiny_context.ckpt"),
                 "--port-config", str(PORT / "tiny_context_config.yaml"), "--steps", "2",
                 "--vocoder", "griffin-lim", "--save-mel", str(mel), "--no-progress",
                 "-o", str(wav)]) == 0
    assert "1 segments" in capsys.readouterr().out
    info = sf.info(str(wav))
    assert info.samplerate == 16000 and 2.9 < info.duration <= 3.1  # notes end at 2 s + 1 s tail
    spec = np.load(mel)
    assert spec.shape == (256, 128) and np.isfinite(spec).all()
    # log-mel through the checkpoint's own scaler: samples clipped to [-1, 1] land in its range
    lo, hi = -12.439981, 2.898988
    assert spec.min() >= lo - 1e-4 and spec.max() <= hi + 1e-4


def test_synth_with_the_port_autoregressive_model(short_midi, tmp_path):
    import soundfile as sf

    wav, mel = tmp_path / "ar.wav", tmp_path / "ar.npy"
    assert main(["synth", str(short_midi), "--model", str(PORT / "tiny_ar.ckpt"),
                 "--port-config", str(PORT / "tiny_ar_config.yaml"), "--save-mel", str(mel),
                 "--no-progress", "-o", str(wav)]) == 0
    assert sf.info(str(wav)).duration > 2.9
    spec = np.load(mel)
    assert spec.shape == (256, 128)
    assert spec.min() >= -12.673383 - 1e-4 and spec.max() <= 3.953348 + 1e-4  # clamped frames


@torch.no_grad()
def test_segments_chain_the_previous_output_as_context(midi):
    """generate_mels = the port's loop: silence first, then each clipped output as context."""
    from specdiff.codec import PORT_CODEC, read_midi, tokenize_notes
    from specdiff.diffusion import cfg, sample
    from specdiff.pipeline import generate_mels

    model = SpectrogramDiffusion.from_pretrained(PORT / "tiny_context.ckpt",
                                                 config=PORT / "tiny_context_config.yaml")
    segments = tokenize_notes(read_midi(midi), PORT_CODEC, program_map=False)
    mels = list(generate_mels(model, segments, SamplerConfig("ddim", 2), seed=3, progress=False))
    assert len(mels) == 2 and all(m.shape == (256, 128) for m in mels)
    generator = torch.Generator().manual_seed(3)
    context = None
    for segment, mel in zip(segments, mels):
        conditioning = model.encode(torch.from_numpy(segment)[None], context)
        x = sample(cfg(model.eps_fn(conditioning), 2.0), (1, 256, 128), "ddim", 2,
                   generator=generator).clamp(-1, 1)
        torch.testing.assert_close(mel, model.unscale(x)[0])
        context = x


def test_pipeline_uses_the_port_codec_and_scaler(midi):
    from specdiff.codec import PORT_CODEC, read_midi, tokenize_notes
    from specdiff.synthesizer import Synthesizer

    synthesizer = Synthesizer.from_pretrained(PORT / "tiny_nocontext.ckpt",
                                              port_config=PORT / "tiny_nocontext_config.yaml")
    assert synthesizer.settings.vocoder == "griffin-lim" and not synthesizer.settings.mel_stages
    _, segments = synthesizer.prepare(midi, None, None)
    expected = tokenize_notes(read_midi(midi), PORT_CODEC, program_map=False)
    assert len(segments) == len(expected) == 2
    for got, want in zip(segments, expected):
        np.testing.assert_array_equal(got, want)
    assert segments[0][0] == 644  # the port's segments start with a bare tie
    assert max(int(s.max()) for s in segments) < 901


@torch.no_grad()
def test_first_segment_context_is_scaled_silence():
    model = SpectrogramDiffusion.from_pretrained(PORT / "tiny_context.ckpt",
                                                 config=PORT / "tiny_context_config.yaml")
    silence = model.silence_context(2)
    assert silence.shape == (2, 257, 128)
    lo, hi = model.config.scaler_min, model.config.scaler_max
    expected = (np.float32(np.log(1e-5)) - np.float32(lo)) / (np.float32(hi) - np.float32(lo))
    torch.testing.assert_close(silence, torch.full_like(silence, float(expected * 2 - 1)))
    tokens = torch.tensor([[644, 645, 643, 572, 100, 642, 572]])
    implicit = model.encode(tokens)
    explicit = model.encode(tokens, silence[:1])
    assert implicit.keys.shape == (1, 7 + 257, 24) and implicit.mask.all()
    assert torch.equal(implicit.keys, explicit.keys)


@torch.no_grad()
def test_pipeline_runs_our_own_autoregressive_models(midi, tmp_path):
    """An official-numerics AR model saved by specdiff goes through the same path."""
    from specdiff.codec import read_midi, tokenize_notes
    from specdiff.models import model_config
    from specdiff.models.autoregressive import AutoregressiveModel
    from specdiff.models.builder import load_model as load_any
    from specdiff.pipeline import generate_mels

    torch.manual_seed(0)
    ar = AutoregressiveModel(model_config("tiny", target_length=32)).eval()  # short segments
    loaded = load_any(ar.save_pretrained(tmp_path / "ar.safetensors"))
    assert isinstance(loaded, AutoregressiveModel)
    segments = tokenize_notes(read_midi(midi))
    mels = list(generate_mels(loaded, segments, batch_size=2, progress=False))
    assert len(mels) == len(segments) == 2
    for segment, mel in zip(segments, mels):
        torch.testing.assert_close(mel, ar.generate(torch.from_numpy(segment)[None])[0])
