"""The built-in model that ships in the repository: `specdiff synth` without ``--model``."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from specdiff.pipeline import BUILTIN_MODEL, load_model, synthesize

RATE = 16000


@pytest.fixture(scope="module")
def model():
    assert BUILTIN_MODEL.is_file(), f"{BUILTIN_MODEL} is missing from the checkout"
    return load_model(None)


def test_builtin_model_and_vocoder_fit_the_size_budget(model):
    from specdiff.vocoders.neural import ASSET

    assert model.config.has_context and model.vocoder_path == "specdiff"
    total = BUILTIN_MODEL.stat().st_size + ASSET.stat().st_size
    assert total <= 60 * 2**20, f"{total / 2**20:.1f} MiB"


@pytest.mark.xfail(strict=True, reason=(
    "the shipped model follows its notes (onset F1 in BENCHMARKS.md) but does not fall silent "
    "where the MIDI does: its generated mel there is only a few nats below the music (its "
    "training windows almost never contain silence; docs/default_model.md). Strict: when a "
    "better model passes, this marker must go."))
def test_builtin_model_sounds_where_the_midi_has_notes_and_is_silent_elsewhere(model, tmp_path):
    from test_pipeline import write_midi

    # a chord and a melody on strings and piano for 0-2.5 s, then nothing until 5.12 s
    notes = [(0, 0, 60 + 2 * k, 100, 0.25 * k, 0.25 * k + 0.5) for k in range(9)]
    notes += [(1, 48, p, 90, 0.0, 2.5) for p in (48, 55, 64)]
    midi = write_midi(tmp_path / "short.mid", notes)
    for seed in range(3):  # one lucky seed is not silence
        audio, rate = synthesize(midi, model, steps=10, seed=seed, progress=False,
                                 tail_seconds=2.62)
        assert rate == RATE and audio.shape == (round(5.12 * RATE),)
        assert np.isfinite(audio).all()
        sf.write(tmp_path / f"short_{seed}.wav", audio, rate)  # kept for a look on failure

        def rms(a: float, b: float, audio=audio) -> float:
            return float(np.sqrt(np.mean(audio[int(a * RATE):int(b * RATE)] ** 2)))

        sounding, silent = rms(0.1, 2.4), rms(3.8, 5.1)
        assert sounding > 0.01, (seed, sounding)
        assert silent < 0.1 * sounding, (seed, silent, sounding)


def test_synth_command_uses_the_builtin_model(tmp_path, capsys):
    from test_pipeline import write_midi

    from specdiff.cli import main

    midi = write_midi(tmp_path / "one.mid", [(0, 40, 67, 100, 0.0, 1.0)])
    out = tmp_path / "one.wav"
    assert main(["synth", str(midi), "-o", str(out), "--steps", "2", "--program", "flute",
                 "--no-progress"]) == 0
    audio, rate = sf.read(out)
    assert rate == RATE and len(audio) == 2 * RATE and np.isfinite(audio).all()
    assert "1 segments" in capsys.readouterr().out
