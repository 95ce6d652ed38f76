"""End-to-end training through the CLI (in-process): loss, logs, checkpoints, export, synthesis,
and the two baselines."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY, data_config

from specdiff.cli import main


def fit_losses(metrics: Path) -> dict[int, float]:
    """train/loss per step from a CSVLogger metrics.csv."""
    out = {}
    with metrics.open() as f:
        for row in csv.DictReader(f):
            if row.get("train/loss"):
                out[int(row["step"])] = float(row["train/loss"])
    return out


def test_tiny_fit_loss_falls_logs_and_checkpoints(rendered, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = data_config(rendered["short"], tmp_path / "data.yaml")
    assert main(["fit", "--config", str(TINY), "--config", str(data),
                 "--trainer.max_steps=40"]) == 0
    losses = fit_losses(tmp_path / "runs/tiny/csv/metrics.csv")
    assert sorted(losses) == list(range(40))
    first = sum(losses[s] for s in range(3)) / 3
    last = sum(losses[s] for s in range(35, 40)) / 5
    # The network starts at eps = 0 (zero-initialised output), i.e. at E|eps| = sqrt(2/pi) = 0.798,
    # the best loss without looking at the input; a clear fall means well below it.
    assert abs(first - 0.798) < 0.02 and last < 0.76, (first, last)
    ckpts = {p.name for p in (tmp_path / "runs/tiny/checkpoints").iterdir()}
    assert {"step000010.ckpt", "step000040.ckpt", "last.ckpt", "best.ckpt"} <= ckpts
    header = (tmp_path / "runs/tiny/csv/metrics.csv").read_text().splitlines()[0]
    assert "lr-AdamW" in header and "val/loss" in header and "val/mel_l1" in header
    assert list((tmp_path / "runs/tiny/tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "runs/tiny/csv/samples/step_0000020/0.png").is_file()

    # export writes the EMA weights, which from_pretrained loads
    from specdiff.models import SpectrogramDiffusion

    out = tmp_path / "tiny.safetensors"
    assert main(["export", str(tmp_path / "runs/tiny/checkpoints/last.ckpt"), "-o", str(out)]) == 0
    model = SpectrogramDiffusion.from_pretrained(out)
    ckpt = torch.load(tmp_path / "runs/tiny/checkpoints/last.ckpt", weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, ckpt["state_dict"]["ema." + key]), key
    assert not torch.equal(ckpt["state_dict"]["ema.decoder.output_proj.weight"],
                           ckpt["state_dict"]["model.decoder.output_proj.weight"])
    assert model.config.target_length == 64 and model.config.has_context


def test_tiny_config_exports_a_model_that_synthesizes(rendered, tmp_path, monkeypatch):
    """configs/tiny.yaml as is (256-frame segments): fit, export, `specdiff synth --model`."""
    import soundfile as sf

    monkeypatch.chdir(tmp_path)
    ds = f"{{class_path: training_data.SavedSegments, init_args: {{path: {rendered['full']}}}}}"
    data = tmp_path / "data.yaml"
    data.write_text(f"data:\n  init_args:\n    train: {ds}\n    val: {ds}\n")
    assert main(["fit", "--config", str(TINY), "--config", str(data), "--trainer.max_steps=2",
                 "--data.init_args.batch_size=2", "--model.init_args.num_logged=0"]) == 0
    model = tmp_path / "m.safetensors"
    assert main(["export", "runs/tiny/checkpoints/last.ckpt", "-o", str(model)]) == 0
    wav = tmp_path / "out.wav"
    assert main(["synth", str(REPO / "examples/pop_groove.mid"), "--model", str(model),
                 "--steps", "2", "--no-progress", "-o", str(wav)]) == 0
    info = sf.info(str(wav))
    assert info.samplerate == 16000 and info.duration > 10.0


def test_export_rejects_a_file_that_is_not_a_training_checkpoint(tmp_path, capsys):
    bad = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, bad)
    assert main(["export", str(bad), "-o", str(tmp_path / "y.safetensors")]) == 2
    assert "not a specdiff training checkpoint" in capsys.readouterr().err


@pytest.mark.integration  # two more Lightning fits; the tiny diffusion fit above stays default
def test_autoregressive_and_ground_truth_baselines_run_end_to_end(rendered, tmp_path, monkeypatch):
    from specdiff.models.autoregressive import AutoregressiveModel
    from specdiff.training.cli import cli_main

    monkeypatch.chdir(tmp_path)
    data = data_config(rendered["short"], tmp_path / "data.yaml", limit=4)
    ar = str(REPO / "configs/tiny_ar.yaml")
    assert main(["fit", "--config", ar, "--config", str(data), "--trainer.max_steps=20"]) == 0
    losses = fit_losses(tmp_path / "runs/tiny_ar/csv/metrics.csv")
    assert losses[19] < 0.5 * losses[0]  # MSE on raw log-mel from a random init
    ckpt = tmp_path / "runs/tiny_ar/checkpoints/last.ckpt"
    cli = cli_main(["test", "--config", ar, "--config", str(data), f"--ckpt_path={ckpt}",
                    "--model.init_args.test_audio_dir=ar_audio"])
    ar_l1 = float(cli.trainer.callback_metrics["test/mel_l1"])
    assert len(list(Path("ar_audio").glob("*.wav"))) == 4
    assert main(["export", str(ckpt), "-o", "ar.safetensors"]) == 0
    model = AutoregressiveModel.from_pretrained("ar.safetensors")
    mel = model.generate(torch.tensor([[1000, 1001, 1]]))
    assert mel.shape == (1, 64, 128) and torch.isfinite(mel).all()

    gt = str(REPO / "configs/gt_encoded.yaml")
    data = data_config(rendered["short"], tmp_path / "gt_data.yaml", frames=None, limit=4)
    cli = cli_main(["test", "--config", gt, "--config", str(data),
                    "--model.init_args.test_audio_dir=gt_audio", "--trainer.accelerator=cpu"])
    assert float(cli.trainer.callback_metrics["test/mel_l1"]) == 0.0
    assert len(list(Path("gt_audio").glob("*.wav"))) == 4
    assert ar_l1 > 0.0


def test_fit_help_lists_lightning_options(capsys):
    assert main(["fit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--ckpt_path" in out and "--trainer.max_steps" in out


def test_a_bad_config_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  class_path: specdiff.training.DiffusionModule\n  init_args:\n"
                   "    no_such_option: 1\n")
    assert main(["fit", "--config", str(bad)]) == 2
    assert "no_such_option" in capsys.readouterr().err
