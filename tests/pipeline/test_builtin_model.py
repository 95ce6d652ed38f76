"""The built-in model that ships in the repository: `specdiff synth` without ``--model``."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from specdiff.synthesizer import BUILTIN_MODEL, Synthesizer

RATE = 16000


@pytest.fixture(scope="module")
def model():
    assert BUILTIN_MODEL.is_file(), f"{BUILTIN_MODEL} is missing from the checkout"
    return Synthesizer.from_pretrained()


def test_builtin_model_and_vocoder_fit_the_size_budget(model):
    from specdiff.vocoders import NeuralVocoder
    from specdiff.vocoders.neural import ASSET

    assert model.model.config.has_context and isinstance(model.vocoder, NeuralVocoder)
    # its own settings travel in the file: guidance 3 (better onset F1 than the official 2), the
    # dropout fill and the soft clip
    assert model.settings.sampling.guidance == 3.0
    assert model.settings.mel_stages == ("fill_dropouts",)
    assert model.settings.audio_stages == ("soft_clip",)
    total = BUILTIN_MODEL.stat().st_size + ASSET.stat().st_size
    assert total <= 60 * 2**20, f"{total / 2**20:.1f} MiB"


def test_builtin_model_sounds_where_the_midi_has_notes_and_is_silent_elsewhere(model):
    from specdiff.evaluation.silence import silence_probe

    # a chord and a melody on strings and piano for 0-2.5 s, then nothing until 5.12 s
    for probe in silence_probe(model, seeds=(0, 1, 2)):  # one lucky seed is not silence
        assert probe.sounding > 0.01, probe
        assert probe.ratio < 0.1, probe


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
    # the same bundle named by its path gives the same bytes
    by_path = tmp_path / "by_path.wav"
    assert main(["synth", str(midi), "-o", str(by_path), "--steps", "2", "--program", "flute",
                 "--no-progress", "--model", str(BUILTIN_MODEL)]) == 0
    assert by_path.read_bytes() == out.read_bytes()
