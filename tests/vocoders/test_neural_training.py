"""Vocoder training: losses, data stream, schedule, and `specdiff fit` with the vocoder configs
(checkpoint, export, exact resume, adversarial training, a start from another vocoder)."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from specdiff.cli import main
from specdiff.training.cli import cli_main
from specdiff.training.vocoder import (
    AudioPool,
    StepBatches,
    StepPositions,
    VocoderModule,
    audio_phase_loss,
    generate,
    lr_factor,
    mel_loss,
    phase_loss,
    stft_loss,
    transfer_weights,
    validation_batches,
)
from specdiff.vocoders import load_vocoder, refine_phase
from specdiff.vocoders.neural import TINY, NeuralVocoder, VocosNet, read_neural_vocoder

CONFIGS = Path(__file__).parents[2] / "configs"
TINY_CONFIG = str(CONFIGS / "vocoder_tiny.yaml")


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


def fit_args(corpus: Path, run: Path, *overrides: str) -> list[str]:
    """``specdiff fit`` arguments: the tiny config on ``corpus``, everything written to ``run``."""
    return ["fit", "--config", TINY_CONFIG, "--data.init_args.corpus", str(corpus),
            "--trainer.logger.init_args.save_dir", str(run), *overrides]


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from more threads, and lose much on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return tone_corpus(tmp_path_factory.mktemp("corpus") / "c")


@pytest.fixture(scope="module")
def whole(corpus, tmp_path_factory) -> Path:
    """The run folder of an uninterrupted 8-step fit of configs/vocoder_tiny.yaml."""
    run = tmp_path_factory.mktemp("whole")
    assert main(fit_args(corpus, run, "--trainer.max_steps", "8")) == 0
    return run


def test_losses_vanish_on_identical_signals_only():
    x = torch.randn(2, 6400) * 0.1
    assert float(stft_loss(x, x)) == 0.0 and float(mel_loss(x, x)) == 0.0
    assert float(stft_loss(0.5 * x, x)) > 0.1 and float(mel_loss(0.5 * x, x)) > 0.5


def test_training_batches_are_a_function_of_the_step(corpus):
    pool = AudioPool([corpus], "train")
    assert len(pool.audio) == 2
    batches = StepBatches(pool, frames=16, batch_size=3, min_rms=1e-3, seed=0)
    mel, audio = batches[5]
    assert mel.shape == (3, 16, 128) and audio.shape == (3, 16 * 320)
    assert torch.equal(batches[5][1], audio) and not torch.equal(batches[6][1], audio)
    assert not torch.equal(StepBatches(pool, 16, 3, 1e-3, seed=1)[5][1], audio)
    # process 1 of 2, resumed at step 3: positions 7, 9, 11, ...
    positions = iter(StepPositions(start=3, rank=1, world_size=2))
    assert [next(positions) for _ in range(3)] == [7, 9, 11]
    val = validation_batches(AudioPool([corpus], "validation"), windows=20, frames=16,
                             min_rms=1e-3)
    assert len(val) == 2 and val[0][0].shape == (8, 16, 128) and val[0][1].shape == (8, 16 * 320)
    again = validation_batches(AudioPool([corpus], "validation"), 20, 16, 1e-3)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(val, again))


def test_schedule_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 10, 110) == 0.1 and lr_factor(9, 10, 110) == 1.0
    assert lr_factor(60, 10, 110) == pytest.approx(0.55)
    assert lr_factor(110, 10, 110) == pytest.approx(0.1) == lr_factor(500, 10, 110)
    factors = [lr_factor(s, 10, 110) for s in range(9, 111)]
    assert factors == sorted(factors, reverse=True)


def test_fit_logs_checkpoints_and_exports_a_vocoder(whole):
    rows = metrics(whole)
    assert {"train/loss", "train/mel_l1", "train/mrstft", "val/mel_l1", "val/mrstft",
            "val/griffin_lim_mel_l1"} <= set(rows[0])
    assert all(np.isfinite(float(r["train/loss"])) for r in rows if r["train/loss"])
    # the Griffin-Lim bar is scored at the first validation only
    assert sum(bool(r["val/griffin_lim_mel_l1"]) for r in rows) == 1
    assert sum(bool(r["val/mel_l1"]) for r in rows) == 2  # steps 4 and 8
    assert {p.name for p in (whole / "checkpoints").iterdir()} == {
        "step000004.ckpt", "step000008.ckpt", "last.ckpt"}
    vocoder = load_vocoder(whole / "best.safetensors")
    assert isinstance(vocoder, NeuralVocoder) and vocoder.net.config == TINY
    _, latest = read_neural_vocoder(whole / "latest.safetensors")
    assert latest["step"] == "8"
    ckpt = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)
    net, _ = read_neural_vocoder(whole / "latest.safetensors")
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, ckpt["state_dict"]["net." + key].half().float())


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(whole, corpus, tmp_path):
    run = tmp_path / "run"
    assert main(fit_args(corpus, run, "--trainer.max_steps", "4")) == 0
    assert main(fit_args(corpus, run, "--trainer.max_steps", "8", "--ckpt_path", "last")) == 0
    end = {name: torch.load(path / "checkpoints" / "last.ckpt", weights_only=True)
           for name, path in (("whole", whole), ("resumed", run))}
    assert end["resumed"]["global_step"] == 8
    for key, value in end["whole"]["state_dict"].items():
        assert torch.equal(value, end["resumed"]["state_dict"][key]), key
    moments = [opt["state"][0]["exp_avg"] for opt in
               (end["whole"]["optimizer_states"][0], end["resumed"]["optimizer_states"][0])]
    assert torch.equal(*moments)
    scores = [[r["val/mel_l1"] for r in metrics(path) if r["val/mel_l1"]][-1]
              for path in (whole, run)]
    assert scores[0] == scores[1]


def test_adversarial_fit_with_every_loss_updates_both_optimizers(corpus, tmp_path):
    run = tmp_path / "run"
    cli = cli_main(fit_args(
        corpus, run, "--trainer.max_steps", "4",
        "--model.init_args.discriminator",
        "{periods: [2, 5], period_channels: [4, 8], resolutions: [[256, 64, 256]], "
        "resolution_channels: 4}",
        "--model.init_args.adversarial_weight", "0.1", "--model.init_args.feature_weight", "0.1",
        "--model.init_args.disc_lr", "2e-4", "--model.init_args.adversarial_start", "2",
        "--model.init_args.refine_iterations", "2", "--model.init_args.phase_weight", "0.1",
        "--model.init_args.audio_phase_weight", "0.1"))
    assert cli.trainer.global_step == 4  # a step is one batch, both networks updated
    generator, critic = cli.trainer.optimizers
    for opt in (generator, critic):
        assert all(float(s["step"]) == 4 for s in opt.state.values()) and opt.state
    assert critic.param_groups[0]["lr"] == pytest.approx(2e-4 * lr_factor(4, 5, 20))
    assert generator.param_groups[0]["lr"] == pytest.approx(5e-4 * lr_factor(4, 5, 20))
    rows = [r for r in metrics(run) if r["train/loss"]]  # steps 1 and 3 (logged every 2)
    assert float(rows[0]["train/disc"]) > 0 and not rows[0]["train/adv"]  # before the start
    assert float(rows[1]["train/adv"]) > 0 and float(rows[1]["train/feat"]) > 0
    assert float(rows[1]["train/phase"]) > 0 and float(rows[1]["train/audio_phase"]) > 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert len(ckpt["optimizer_states"]) == 2 and len(ckpt["lr_schedulers"]) == 2
    assert any(key.startswith("discriminators.") for key in ckpt["state_dict"])
    assert load_vocoder(run / "best.safetensors").net.config == TINY


def test_a_recurrent_phase_fit_starts_from_a_frame_phase_vocoder(whole, corpus, tmp_path):
    start = read_neural_vocoder(whole / "best.safetensors")[0].state_dict()
    # Another seed: without the init its fresh weights would differ everywhere.
    cli = cli_main(fit_args(corpus, tmp_path / "run", "--trainer.max_steps", "1",
                            "--seed_everything", "1", "--model.init_args.net.phase", "recurrent",
                            "--model.init_args.init", str(whole / "best.safetensors")))
    state = cli.model.net.state_dict()
    bins = TINY.n_fft // 2 + 1
    # One small step away from the initial weights, far from a fresh initialisation.
    for key, value in start.items():
        ours = state[key][:bins] if key.startswith("head.") else state[key]
        theirs = value[:bins] if key.startswith("head.") else value
        assert (ours - theirs).abs().max() < 0.01, key
    assert state["head.weight"].shape[0] == 6 * bins


def test_adversarial_weights_need_discriminators():
    with pytest.raises(ValueError, match="need a discriminator"):
        VocoderModule(TINY, adversarial_weight=0.1)


@pytest.mark.parametrize("config", ["vocoder.yaml", "vocoder_recurrent.yaml", "vocoder_gan.yaml"])
def test_the_full_size_configs_parse(config, capsys):
    assert main(["fit", "--config", str(CONFIGS / config), "--data.init_args.corpus", "c",
                 "--print_config"]) == 0
    assert "class_path: specdiff.training.VocoderModule" in capsys.readouterr().out


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


def test_a_recurrent_phase_vocoder_takes_a_frame_phase_ones_weights():
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


def test_generation_through_the_phase_refinement_passes_gradients():
    torch.manual_seed(0)
    net = VocosNet(TINY)
    mel = torch.randn(2, 12, 128) - 4.0
    with torch.no_grad():
        spec, audio = generate(net, mel)
        torch.testing.assert_close(spec, net.spectrum(mel)[0])
        torch.testing.assert_close(audio, net(mel))
        torch.testing.assert_close(generate(net, mel, 2)[1], refine_phase(net(mel), mel, 2))
    # Gradients reach the network through the refinement's STFTs.
    loss = mel_loss(generate(net, mel[:1], 2)[1], torch.randn(1, 12 * 320) * 0.05)
    loss.backward()
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
