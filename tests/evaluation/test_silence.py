"""The silence probe: notes for 2.5 s, then nothing; RMS over the notes against after them."""

import numpy as np
import pytest
import torch

from specdiff.evaluation.silence import SILENT, SOUNDING, SilenceProbe, probe_notes, rms, \
    silence_probe


def test_the_probe_plays_then_stops_well_before_the_measured_silence():
    notes = probe_notes()
    assert notes.total_time == 2.5 and notes.end.max() == 2.5
    assert SOUNDING[1] <= notes.end.max() < SILENT[0] - 1.0  # a second for releases to die
    assert set(notes.program.tolist()) == {0, 48} and not notes.is_drum.any()


def test_rms_and_ratio():
    rate = 100
    audio = np.concatenate([np.full(250, 0.5), np.full(262, 0.05)])
    assert rms(audio, rate, SOUNDING) == pytest.approx(0.5)
    assert rms(audio, rate, SILENT) == pytest.approx(0.05)
    assert SilenceProbe(0, 0.5, 0.05).ratio == pytest.approx(0.1)
    assert SilenceProbe(0, 0.0, 0.0).ratio == 0.0


def test_silence_probe_runs_a_model_once_per_seed():
    from specdiff.models import SpectrogramDiffusion, model_config
    from specdiff.vocoders import GriffinLim

    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("tiny", has_context=True)).eval()
    probes = silence_probe(model, seeds=(0, 1), steps=1, vocoder=GriffinLim(n_iter=1))
    assert [p.seed for p in probes] == [0, 1]
    assert all(p.sounding > 0 and np.isfinite(p.ratio) for p in probes)
    assert probes[0] != probes[1]  # another seed, another sample
