"""The studio's door into synthesis (``specdiff.demo.runner``) against the real pipeline, with a
tiny random model: what the page plays and draws, without gradio or a browser."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.codec import read_midi
from specdiff.demo import RenderSettings, load_model, reassign_instruments, synthesize_notes
from specdiff.demo.figure import render_figure
from specdiff.errors import SpecdiffError

EXAMPLE = Path(__file__).parents[2] / "specdiff" / "demo" / "examples" / "quartet.mid"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from specdiff.models import SpectrogramDiffusion, model_config

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    SpectrogramDiffusion(model_config("tiny")).save_pretrained(path)
    return load_model(path)


def test_render_gives_audio_wav_and_the_generated_mel(model, tmp_path):
    from specdiff.vocoders import GriffinLim

    sequence = reassign_instruments(read_midi(EXAMPLE), {0: 40})
    # A very short Griffin-Lim: the vocoder's quality is not what this test is about.
    settings = RenderSettings(sampler="ddim", steps=2, guidance=2.0, seed=3,
                              vocoder=GriffinLim(n_iter=1, nnls_iter=1))
    result = synthesize_notes(sequence, model, settings, tmp_path / "a.wav")
    # 4 s of notes + the pipeline's 1 s tail, within one 5.12 s segment, at 16 kHz.
    assert result.sample_rate == 16000
    assert len(result.audio) == math.ceil((sequence.total_time + 1.0) * 16000)
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() <= 1.0
    assert result.wav == tmp_path / "a.wav" and result.wav.stat().st_size > 44
    # The generated mel (not a re-analysis of the audio): the saved segment, trimmed to the
    # audio's frames.
    assert result.mel.shape == (math.ceil(len(result.audio) / 320), 128)
    saved = np.load(tmp_path / "a.mel.npy")
    np.testing.assert_array_equal(result.mel, saved[: len(result.mel)])
    png = render_figure(sequence, result.mel, tmp_path / "figure.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(SpecdiffError, match="missing.safetensors"):
        load_model(tmp_path / "missing.safetensors")
