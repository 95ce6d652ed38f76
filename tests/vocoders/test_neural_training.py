"""The vocoder training loop: losses, a short fit, checkpoint and resume."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from specdiff.training.vocoder import (
    AudioPool,
    audio_phase_loss,
    VocoderTrainConfig,
    lr_at,
    make_batch,
    mel_loss,
    phase_loss,
    stft_loss,
    train,
    transfer_weights,
)
from specdiff.vocoders import load_vocoder
from specdiff.vocoders.neural import TINY, NeuralVocoder, VocosNet

CONFIGS = Path(__file__).parents[2] / "configs"


def tone_corpus(root: Path) -> Path:
    """Three 2 s files (plucked tones), two in train and one in validation."""
    (root / "audio").mkdir(parents=True)
    t = np.arange(32000) / 16000
    lines = []
    for i, (freq, split) in enumerate([(220.0, "train"), (330.0, "train"), (440.0, "validation")]):
        audio = 0.3 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * (t % 0.5))
        sf.write(str(root / "audio" / f"{i}.wav"), audio.astype(np.float32), 16000,
                 subtype="PCM_16")
        lines.append(json.dumps({"id": str(i), "split": split, "audio": f"audio/{i}.wav"}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_losses_vanish_on_identical_signals_only():
    x = torch.randn(2, 6400) * 0.1
    assert float(stft_loss(x, x)) == 0.0 and float(mel_loss(x, x)) == 0.0
    assert float(stft_loss(0.5 * x, x)) > 0.1 and float(mel_loss(0.5 * x, x)) > 0.5


def test_batches_and_schedule(tmp_path):
    pool = AudioPool([tone_corpus(tmp_path / "c")], "train")
    assert len(pool.audio) == 2
    mel, audio = make_batch(pool, 16, 3, np.random.default_rng(0), 1e-3)
    assert mel.shape == (3, 16, 128) and audio.shape == (3, 16 * 320)
    config = VocoderTrainConfig(lr=1.0, warmup_steps=10, max_steps=110)
    assert lr_at(0, config) == 0.1 and lr_at(9, config) == 1.0
    assert abs(lr_at(110, config) - 0.1) < 1e-9


def test_config_overrides_on_top_of_the_yaml():
    config = VocoderTrainConfig.from_yaml(
        CONFIGS / "vocoder_tiny.yaml", ["lr=1e-4", "model.phase=recurrent", "betas=[0.5, 0.6]"])
    assert config.lr == 1e-4 and config.betas == (0.5, 0.6)
    assert config.model["phase"] == "recurrent" and config.model["dim"] == TINY.dim
    assert VocoderTrainConfig.from_yaml(None, ["warmup_steps=7"]).warmup_steps == 7
    with pytest.raises(ValueError, match="unknown keys"):
        VocoderTrainConfig.from_yaml(None, ["learning_rate=1e-4"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        VocoderTrainConfig.from_yaml(None, ["lr"])


def test_fit_checkpoint_and_resume(tmp_path):
    corpus = tone_corpus(tmp_path / "c")
    config = VocoderTrainConfig.from_yaml(CONFIGS / "vocoder_tiny.yaml")
    assert config.model == {"dim": TINY.dim, "intermediate": TINY.intermediate,
                            "layers": TINY.layers, "n_fft": TINY.n_fft}
    run = tmp_path / "run"
    logs: list[str] = []
    first = train(config, [corpus], run, max_steps=8, log=logs.append)
    assert first["step"] == 8 and (run / "last.pt").is_file()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert all(np.isfinite(losses))
    resumed = train(config, [corpus], run, max_steps=12, log=logs.append)
    assert any("resumed from" in line and "step 8" in line for line in logs)
    assert resumed["step"] == 12
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 12
    vocoder = load_vocoder(run / "best.safetensors")
    assert isinstance(vocoder, NeuralVocoder) and vocoder.net.config == TINY
    assert json.loads((run / "griffin_lim_val.json").read_text())["val_mel_l1"] > 0


def test_init_from_a_vocoder_file(tmp_path):
    corpus = tone_corpus(tmp_path / "c")
    config = VocoderTrainConfig.from_yaml(CONFIGS / "vocoder_tiny.yaml")
    train(config, [corpus], tmp_path / "a", max_steps=4, log=lambda _: None)
    logs: list[str] = []
    # Another seed: without the init its fresh weights would differ everywhere.
    train(replace(config, seed=1), [corpus], tmp_path / "b", max_steps=1, log=logs.append,
          init=tmp_path / "a" / "best.safetensors")
    assert any("initialised from" in line for line in logs)
    start = load_vocoder(tmp_path / "a" / "best.safetensors").net.state_dict()
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    # One small step away from the initial weights, far from a fresh initialisation.
    assert all((state[k] - start[k]).abs().max() < 0.01 for k in start)


def _frames(audio: torch.Tensor, n_fft: int = 1024) -> torch.Tensor:
    """The STFT frames a VocosNet would have to predict for ``audio`` (one extra at the end)."""
    spec = torch.stft(audio, n_fft, 320, n_fft, torch.hann_window(n_fft), center=True,
                      return_complex=True)
    return torch.cat([spec, spec[..., -1:]], dim=-1)


def test_phase_loss_compares_phase_differences_not_absolute_phase():
    torch.manual_seed(0)
    audio = torch.randn(2, 40 * 320)
    spec = _frames(audio)
    assert abs(float(phase_loss(spec, audio, 1024))) < 1e-6
    # A constant phase offset changes no phase difference.
    assert abs(float(phase_loss(spec * (1j ** 0.7), audio, 1024))) < 1e-6
    # Audio 37 samples late: the group delays differ; random phase is far worse still.
    late = float(phase_loss(_frames(torch.roll(audio, 37, -1)), audio, 1024))
    scrambled = torch.polar(spec.abs(), 2 * np.pi * torch.rand(spec.shape))
    assert 0.02 < late < float(phase_loss(scrambled, audio, 1024)) - 1.0


def test_audio_phase_loss_judges_the_signal_itself():
    torch.manual_seed(0)
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * np.pi * 220.0 * t)[None]
    assert abs(float(audio_phase_loss(tone, tone))) < 1e-3  # (eps in near-empty bins)
    assert abs(float(audio_phase_loss(-tone, tone))) < 1e-3  # sign = absolute phase
    # A quarter tone flat: the instantaneous frequency is off in every frame.
    flat = torch.sin(2 * np.pi * 213.7 * t)[None]
    detuned = float(audio_phase_loss(flat, tone))
    assert 0.05 < detuned < float(audio_phase_loss(torch.randn(1, 16000), tone))


def test_a_recurrent_phase_vocoder_starts_from_a_frame_phase_one(tmp_path):
    torch.manual_seed(0)
    source, target = VocosNet(TINY), VocosNet(replace(TINY, phase="recurrent"))
    copied = transfer_weights(source, target)
    mine, theirs = target.state_dict(), source.state_dict()
    assert copied == len(mine) - 2  # all but the head's weight and bias
    bins = TINY.n_fft // 2 + 1
    assert torch.equal(mine["head.weight"][:bins], theirs["head.weight"][:bins])
    assert torch.equal(mine["blocks.1.dw_weight"], theirs["blocks.1.dw_weight"])
    # The same magnitudes, so the same log-mel to within what the phase changes.
    mel = torch.randn(1, 30, 128) - 5.0
    with torch.no_grad():
        a, b = source.spectrum(mel)[0], target.spectrum(mel)[0]
    torch.testing.assert_close(a.abs(), b.abs())


def test_adversarial_fit_trains_the_discriminators_and_resumes_them(tmp_path):
    corpus = tone_corpus(tmp_path / "c")
    config = VocoderTrainConfig.from_yaml(CONFIGS / "vocoder_tiny.yaml", [
        "adversarial_weight=0.1", "feature_weight=0.1", "adversarial_start=2",
        "discriminator.periods=[2, 5]", "discriminator.period_channels=[4, 8]",
        "discriminator.resolutions=[[256, 64, 256]]", "discriminator.resolution_channels=4"])
    assert config.adversarial and config.discriminator["periods"] == [2, 5]
    run = tmp_path / "run"
    logs: list[str] = []
    train(config, [corpus], run, max_steps=4, log=logs.append)
    assert any("in discriminators" in line for line in logs)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = {r["step"]: r for r in records if "loss" in r}
    assert steps[2]["disc"] > 0 and steps[2]["adv"] == 0  # before adversarial_start
    assert steps[4]["adv"] > 0 and steps[4]["feat"] > 0
    state = torch.load(run / "last.pt", weights_only=True)
    assert "discriminator" in state and state["disc_optimizer"]["state"]
    train(config, [corpus], run, max_steps=6, log=logs.append)
    resumed = torch.load(run / "last.pt", weights_only=True)
    assert resumed["step"] == 6
    # Two more small steps from the saved discriminators, not a fresh initialisation.
    deltas = [(resumed["discriminator"][k] - v).abs().max()
              for k, v in state["discriminator"].items()]
    assert 0 < max(deltas) < 0.01


def test_training_through_the_phase_refinement(tmp_path):
    from specdiff.training.vocoder import generate
    from specdiff.vocoders import refine_phase

    torch.manual_seed(0)
    net = VocosNet(TINY)
    mel = torch.randn(2, 12, 128) - 4.0
    with torch.no_grad():
        torch.testing.assert_close(generate(net, mel), net(mel))
        torch.testing.assert_close(generate(net, mel, 2), refine_phase(net(mel), mel, 2))
    # Gradients reach the network through the refinement's STFTs.
    mel_target = torch.randn(1, 12, 128) - 4.0
    loss = mel_loss(generate(net, mel_target, 2), torch.randn(1, 12 * 320) * 0.05)
    loss.backward()
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
    corpus = tone_corpus(tmp_path / "c")
    config = VocoderTrainConfig.from_yaml(CONFIGS / "vocoder_tiny.yaml", ["refine_iterations=2"])
    record = train(config, [corpus], tmp_path / "run", max_steps=4, log=lambda _: None)
    assert record["step"] == 4 and np.isfinite(record["val_mel_l1"])
