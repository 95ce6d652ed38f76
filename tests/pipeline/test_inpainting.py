"""Inpainting: overlapped windows, passage re-generation, the seam metric; tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from midi_files import write_midi

from specdiff.bundle import SynthesisSettings
from specdiff.cli import main
from specdiff.diffusion import SamplerConfig, inpaint, sample
from specdiff.errors import SpecdiffError
from specdiff.evaluation import seam_ratio, segment_joins
from specdiff.models import SpectrogramDiffusion, model_config
from specdiff.pipeline import Passage, window_starts
from specdiff.synthesizer import Synthesizer
from specdiff.vocoders import GriffinLim

NOTES = [(0, 0, 60 + k % 12, 100, 0.4 * k, 0.4 * k + 0.5) for k in range(30)]  # 12.5 s, 3 segments


@pytest.fixture(scope="module")
def midi(tmp_path_factory):
    return write_midi(tmp_path_factory.mktemp("midi") / "song.mid", NOTES)


def synthesizer(has_context: bool = True, **settings) -> Synthesizer:
    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("tiny", has_context=has_context)).eval()
    sampling = SamplerConfig(steps=3)
    return Synthesizer(model, SynthesisSettings(sampling=sampling, **settings),
                       GriffinLim(n_iter=2))


def toy_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A model function whose frames see each other (through the mean over time)."""
    return torch.sin(3 * x) + x.mean(dim=1, keepdim=True) + t.view(-1, 1, 1)


def test_inpainting_holds_known_frames_exactly_and_nothing_else():
    x0 = torch.rand(2, 16, 4) * 2 - 1
    weight = torch.zeros(2, 16, 1)
    weight[:, :5] = 1
    generator = torch.Generator().manual_seed(0)
    for name in ("dpmpp_2m", "dpmpp_3m", "ddim", "ddpm"):
        steps = 30 if name == "ddpm" else 8
        held = sample(inpaint(toy_model, x0, weight), (2, 16, 4), name, steps,
                      torch.Generator().manual_seed(0))
        free = sample(toy_model, (2, 16, 4), name, steps, torch.Generator().manual_seed(0))
        # float32 round-off of the eps <-> x0 conversions, not a drift: below 1e-3
        torch.testing.assert_close(held[:, :5], x0[:, :5], atol=1e-3, rtol=0)
        assert not torch.allclose(held[:, 5:], free[:, 5:])  # the rest fits the known frames
    none = sample(inpaint(toy_model, x0, torch.zeros_like(weight)), (2, 16, 4), "dpmpp_2m", 8,
                  generator)
    torch.testing.assert_close(
        none, sample(toy_model, (2, 16, 4), "dpmpp_2m", 8, torch.Generator().manual_seed(0)))


def test_window_starts_cover_the_piece_with_the_overlap():
    assert window_starts(768, 0) == [0, 256, 512]
    assert window_starts(768, 32) == [0, 224, 448, 512]  # the last window ends with the piece
    assert window_starts(100, 32) == [0]  # shorter than a window
    assert window_starts(1024, 32, first=300, last=600) == [300, 524]
    with pytest.raises(SpecdiffError, match="overlap 256"):
        window_starts(768, 256)


@pytest.mark.parametrize("continuation", ["inpaint", "context+inpaint"])
def test_inpainted_continuation_makes_every_frame_once_and_reproducibly(midi, continuation):
    synth = synthesizer(continuation=continuation, overlap=16)
    notes, segments = synth.prepare(midi)
    pieces = list(synth.mels(segments, synth.settings, notes=notes, seed=2, progress=False))
    mel = torch.cat(pieces).numpy()
    assert mel.shape == (3 * 256, 128) and np.isfinite(mel).all()
    again = torch.cat(list(synth.mels(segments, synth.settings, notes=notes, seed=2,
                                      progress=False))).numpy()
    np.testing.assert_array_equal(mel, again)
    audio, rate = synth.synthesize(midi, seed=2, progress=False)
    assert rate == 16000 and len(audio) == round((NOTES[-1][5] + 1.0) * 16000)


def test_the_context_encoder_sees_the_frames_before_each_window(midi, monkeypatch):
    synth = synthesizer(continuation="context+inpaint", overlap=16)
    seen = []
    encode = synth.model.encode

    def spy(tokens, context=None, context_mask=None, *args, **kwargs):
        seen.append(None if context_mask is None else int(context_mask.sum()))
        return encode(tokens, context, context_mask, *args, **kwargs)

    monkeypatch.setattr(synth.model, "encode", spy)
    notes, segments = synth.prepare(midi)
    list(synth.mels(segments, synth.settings, notes=notes, progress=False))
    assert seen == [None, 240, 256, 256]  # windows at 0, 240, 480, 512


def test_regeneration_keeps_every_frame_outside_the_range(midi, tmp_path):
    synth = synthesizer()
    first = synth.synthesize_to_file(midi, tmp_path / "a.wav", save_mel=tmp_path / "a.npy",
                                     progress=False)
    old = np.load(first.mel_path)
    passage = Passage(old, 4.0, 7.0, "a.npy")
    result = synth.synthesize_to_file(midi, tmp_path / "b.wav", save_mel=tmp_path / "b.npy",
                                      progress=False, seed=9, passage=passage)
    new = np.load(result.mel_path)
    outside = np.ones(len(old), dtype=bool)
    outside[200:350] = False
    assert new.shape == old.shape
    np.testing.assert_array_equal(new[outside], old[outside])
    assert np.abs(new[~outside] - old[~outside]).mean() > 0.1
    again = synth.synthesize_to_file(midi, tmp_path / "c.wav", save_mel=tmp_path / "c.npy",
                                     progress=False, seed=9, passage=passage)
    np.testing.assert_array_equal(np.load(again.mel_path), new)


@pytest.mark.parametrize("args, message", [
    (["--regenerate", "1:2"], "go together"),
    (["--from-mel", "{mel}"], "go together"),
    (["--from-mel", "{mel}", "--regenerate", "2"], "expected START:END"),
    (["--from-mel", "{mel}", "--regenerate", "3:1"], "expected 0 <= START < END"),
    (["--from-mel", "{mel}", "--regenerate", "1:30"], "frames end at 15.36 s"),
    (["--from-mel", "{short}", "--regenerate", "1:2"], "this MIDI makes 768"),
    (["--from-mel", "{flat}", "--regenerate", "1:2"], "expected (frames, 128)"),
    (["--from-mel", "{missing}", "--regenerate", "1:2"], "no such file"),
])
def test_regeneration_errors_speak_to_the_user(midi, tmp_path, capsys, args, message):
    bundle = synthesizer().model.save_pretrained(tmp_path / "tiny.safetensors")
    files = {"mel": tmp_path / "mel.npy", "short": tmp_path / "short.npy",
             "flat": tmp_path / "flat.npy", "missing": tmp_path / "missing.npy"}
    np.save(files["mel"], np.zeros((768, 128), np.float32))
    np.save(files["short"], np.zeros((512, 128), np.float32))
    np.save(files["flat"], np.zeros(768, np.float32))
    args = [a.format(**files) for a in args]
    out = tmp_path / "out.wav"
    assert main(["synth", str(midi), "-o", str(out), "--model", str(bundle), "--steps", "1",
                 "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_regenerate_on_the_command_line(midi, tmp_path):
    bundle = synthesizer().model.save_pretrained(tmp_path / "tiny.safetensors")
    common = ["synth", str(midi), "--model", str(bundle), "--steps", "1", "--no-progress"]
    assert main([*common, "-o", str(tmp_path / "a.wav"), "--save-mel",
                 str(tmp_path / "a.npy")]) == 0
    assert main([*common, "-o", str(tmp_path / "b.wav"), "--from-mel", str(tmp_path / "a.npy"),
                 "--regenerate", "2:3.5", "--save-mel", str(tmp_path / "b.npy"),
                 "--seed", "4"]) == 0
    old, new = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    changed = np.flatnonzero(np.abs(new - old).max(axis=1) > 0)
    assert changed.min() >= 100 and changed.max() < 175


def test_seam_ratio_finds_jumps_at_the_joins():
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.normal(0, 0.1, (1024, 8)), axis=0) - 4
    joins = segment_joins(1024)
    assert joins == [256, 512, 768]
    assert 0.5 < seam_ratio(smooth, joins) < 1.5
    jumpy = smooth.copy()
    for j in joins:
        jumpy[j:] += 2.0
    assert seam_ratio(jumpy, joins) > 5
    assert segment_joins(1024, 224, 32) == [256, 480, 704, 928]
    silent = np.full((512, 8), -11.0)
    assert np.isnan(seam_ratio(silent, [256]))
