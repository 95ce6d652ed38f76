"""Fixed [-1, 1] scaling of log-mel features."""

from __future__ import annotations

import math

import numpy as np
import torch

from specdiff.audio import MAX_LOG_MEL, MIN_LOG_MEL, scale_mel, unscale_mel


def test_scale_endpoints_and_clip():
    mel = torch.tensor([MIN_LOG_MEL, MAX_LOG_MEL, -20.0, 10.0, (MIN_LOG_MEL + MAX_LOG_MEL) / 2])
    torch.testing.assert_close(scale_mel(mel), torch.tensor([-1.0, 1.0, -1.0, 1.0, 0.0]))


def test_round_trip_inside_range_and_no_clip_on_unscale():
    rng = np.random.default_rng(0)
    mel = rng.uniform(MIN_LOG_MEL, MAX_LOG_MEL, size=(2, 256, 128))
    np.testing.assert_allclose(unscale_mel(scale_mel(mel)), mel, atol=1e-12)
    # unscale does not clip: x = 1.5 lies beyond max
    assert unscale_mel(np.array(1.5)) > MAX_LOG_MEL
    assert math.isclose(float(unscale_mel(torch.tensor(-1.0, dtype=torch.float64))), MIN_LOG_MEL)


def test_types_are_preserved():
    assert isinstance(scale_mel(torch.zeros(3)), torch.Tensor)
    assert isinstance(scale_mel(np.zeros(3)), np.ndarray)
    assert isinstance(unscale_mel(np.zeros(3)), np.ndarray)
