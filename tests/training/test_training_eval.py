"""`specdiff test ... --model.init_args.test_audio_dir DIR` also evaluates the test split: reference
audio and window MIDI are written beside the generated audio and scored by specdiff.evaluation."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from specdiff.cli import main

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("fluidsynth") is None or not SOUNDFONT.is_file(),
                                 reason="needs the fluidsynth CLI and TimGM6mb")]


@pytest.fixture(scope="module")
def test_cache(tmp_path_factory) -> Path:
    """A cache whose test split is examples/pop_groove.mid rendered with TimGM6mb."""
    root = tmp_path_factory.mktemp("eval_cache")
    assert main(["render", str(REPO / "examples/pop_groove.mid"), "-o", str(root / "rendered"),
                 "--soundfont", str(SOUNDFONT), "--split", "0,0,1", "--tail", "0.5",
                 "--no-progress", "--jobs", "1"]) == 0
    assert main(["prepare", str(root / "cache"), "--rendered", str(root / "rendered"),
                 "--no-progress", "--jobs", "1"]) == 0
    return root / "cache"


def test_write_notes_midi_round_trips_the_window_notes(tmp_path):
    from specdiff.data.notes import make_notes
    from specdiff.evaluation import midi_reference_notes, window_notes_for_eval, write_notes_midi

    notes = make_notes([(0.5, 1.5, 60, 90, 0, False), (2.0, 9.0, 64, 80, 33, False),
                        (2.25, 2.5, 36, 100, 0, True), (1.0, 3.0, 67, 70, 0, False)])
    window = window_notes_for_eval(notes, start=1.2, duration=5.0)
    # notes sounding from before the window (no onset in it) are dropped; ends clip to 5 s
    assert window["pitch"].tolist() == [64, 36]
    assert np.allclose(window["start"], [0.8, 1.05]) and np.allclose(window["end"], [5.0, 1.3])
    path = write_notes_midi(window, tmp_path / "w.mid")
    got = midi_reference_notes(path)  # pitched notes only: the drum hit is left out
    assert np.allclose(got, [[0.8, 5.0, 64.0]], atol=2e-3), got
    from specdiff.codec import read_midi

    seq = read_midi(path)
    assert seq.is_drum.tolist().count(True) == 1 and 33 in seq.program.tolist()


def test_specdiff_test_writes_the_evaluation_table(test_cache, tmp_path, monkeypatch):
    from specdiff.training.cli import cli_main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "gt"
    cli = cli_main(["test", "--config", str(REPO / "configs/gt_encoded.yaml"),
                    f"--data.init_args.cache={test_cache}", "--data.init_args.batch_size=2",
                    f"--model.init_args.test_audio_dir={out}", "--trainer.accelerator=cpu"])
    wavs = sorted(p.stem for p in out.glob("*.wav"))
    assert wavs and wavs == sorted(p.stem for p in (out / "reference").glob("*.wav"))
    assert wavs == sorted(p.stem for p in (out / "midi").glob("*.mid"))
    for name in ("eval.json", "eval.csv", "eval.md", "eval.png"):
        assert (out / name).is_file(), name

    report = json.loads((out / "eval.json").read_text())
    assert report["systems"] == ["ground truth", "ground truth encoded"]
    gt, encoded = report["metrics"]["ground truth"], report["metrics"]["ground truth encoded"]
    assert gt["n_files"] == encoded["n_files"] == len(wavs)
    assert gt["logmel_l1"] == 0.0 and gt["mrstft"] == 0.0
    assert encoded["logmel_l1"] > 0.0 and encoded["mrstft"] > 0.0
    # basic-pitch on TimGM6mb renders of the window MIDI: the reference transcribes well
    assert gt["onset_f1"] > 0.5, gt
    assert 0.0 <= encoded["onset_f1"] <= 1.0
    with (out / "eval.csv").open() as f:
        rows = {r["system"]: r for r in csv.DictReader(f)}
    assert float(rows["ground truth encoded"]["logmel_l1"]) == pytest.approx(encoded["logmel_l1"])
    table = (out / "eval.md").read_text()
    assert "| ground truth encoded |" in table and "Onset F1" in table and "MR-STFT" in table

    logged = cli.trainer.callback_metrics
    assert float(logged["test/mel_l1"]) == 0.0
    assert float(logged["test/logmel_l1"]) == pytest.approx(encoded["logmel_l1"], rel=1e-5)
    assert float(logged["test/onset_f1"]) == pytest.approx(encoded["onset_f1"], rel=1e-5)
    assert float(logged["test/reference_onset_f1"]) == pytest.approx(gt["onset_f1"], rel=1e-5)


def test_a_diffusion_model_with_context_gets_its_row(test_cache, tmp_path, monkeypatch):
    """The tiny diffusion config (untrained, context windows) on the first test batch only."""
    from specdiff.training.cli import cli_main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tiny"
    cli = cli_main(["test", "--config", str(REPO / "configs/tiny.yaml"),
                    f"--data.init_args.cache={test_cache}", "--data.init_args.batch_size=2",
                    "--data.init_args.test_batches=1", "--model.init_args.sampler_steps=2",
                    f"--model.init_args.test_audio_dir={out}"])
    report = json.loads((out / "eval.json").read_text())
    assert report["systems"] == ["ground truth", "diffusion (context)"]
    row = report["metrics"]["diffusion (context)"]
    assert row["n_files"] == 2 and row["logmel_l1"] > 0.5  # an untrained model: far off
    assert "onset_f1" in row and "mrstft" in row
    assert float(cli.trainer.callback_metrics["test/logmel_l1"]) == pytest.approx(row["logmel_l1"],
                                                                                   rel=1e-5)


def test_two_ddp_processes_write_every_window_and_score_them_once(test_cache, tmp_path):
    """`specdiff test` with two CPU processes (gloo): both ranks' windows are in the table, and
    the reference row equals a single-process run's."""
    import subprocess
    import sys

    from conftest import child_env

    common = ["test", "--config", str(REPO / "configs/gt_encoded.yaml"),
              f"--data.init_args.cache={test_cache}", "--data.init_args.batch_size=1",
              "--trainer.accelerator=cpu"]
    runs = {"one": ["--trainer.devices=1"],
            "two": ["--trainer.devices=2", "--trainer.strategy=ddp"]}
    reports = {}
    for name, extra in runs.items():
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "specdiff", *common, *extra,
                               f"--model.init_args.test_audio_dir={out}"], cwd=tmp_path,
                              env=child_env(), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        reports[name] = json.loads((out / "eval.json").read_text())
        assert "| ground truth encoded |" in proc.stdout
    one, two = reports["one"]["metrics"], reports["two"]["metrics"]
    assert two["ground truth encoded"]["n_files"] == one["ground truth encoded"]["n_files"] >= 3
    for key in ("onset_f1", "onset_offset_f1", "n_transcribed"):
        assert two["ground truth"][key] == pytest.approx(one["ground truth"][key]), key
    assert sorted(p.name for p in (tmp_path / "two/reference").iterdir()) == \
        sorted(p.name for p in (tmp_path / "one/reference").iterdir())
