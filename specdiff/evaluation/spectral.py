"""Spectral distances to the reference audio: log-mel L1 and multi-resolution STFT distance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# (n_fft, hop, window) triples: the usual multi-resolution STFT loss set (Parallel WaveGAN).
MRSTFT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (1024, 120, 600),
    (2048, 240, 1200),
    (512, 50, 240),
)
_MAG_FLOOR = 1e-7


def _pair(pred: np.ndarray, ref: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Both (n,) signals as float32 tensors cut to the shorter length, NaNs zeroed."""
    n = min(len(pred), len(ref))
    as_t = lambda x: torch.from_numpy(np.nan_to_num(np.asarray(x[:n], np.float32)))  # noqa: E731
    return as_t(pred), as_t(ref)


def log_mel_l1(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean absolute difference of the official log-mel spectrograms (natural log, 128 bins).

    Args:
        pred, ref: (n,) mono 16 kHz audio; cut to the shorter length first.
    """
    from specdiff.audio import log_mel

    p, r = _pair(pred, ref)
    if len(p) == 0:
        return float("nan")
    mels = log_mel(torch.stack([p, r]))  # (2, T, 128)
    return float((mels[0] - mels[1]).abs().mean())


def _magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    window = torch.hann_window(win, dtype=x.dtype)
    spec = torch.stft(x, n_fft, hop, win, window, center=True, return_complex=True)
    return spec.abs().clamp_min(_MAG_FLOOR)  # (F, T)


def stft_distance(pred: torch.Tensor, ref: torch.Tensor, n_fft: int, hop: int, win: int
                  ) -> tuple[float, float]:  # fmt: skip
    """(spectral convergence, log-magnitude L1) at one resolution.

    SC = ||S_ref - S_pred||_F / ||S_ref||_F; log-mag = mean |log S_ref - log S_pred|.
    """
    mp, mr = _magnitude(pred, n_fft, hop, win), _magnitude(ref, n_fft, hop, win)
    sc = torch.linalg.norm(mr - mp) / torch.linalg.norm(mr).clamp_min(_MAG_FLOOR)
    logmag = (mr.log() - mp.log()).abs().mean()
    return float(sc), float(logmag)


def multi_resolution_stft_distance(
    pred: np.ndarray,
    ref: np.ndarray,
    resolutions: Sequence[tuple[int, int, int]] = MRSTFT_RESOLUTIONS,
) -> dict[str, float]:
    """Spectral convergence and log-magnitude distance averaged over STFT resolutions.

    Args:
        pred, ref: (n,) mono audio at the same rate; cut to the shorter length first.
    Returns:
        {"mrstft_sc", "mrstft_logmag", "mrstft"} with mrstft = sc + logmag.
    """
    p, r = _pair(pred, ref)
    if len(p) == 0:
        return {"mrstft_sc": float("nan"), "mrstft_logmag": float("nan"), "mrstft": float("nan")}
    # torch.stft with center=True reflect-pads n_fft // 2, which needs more samples than that
    if len(p) <= max(n for n, _, _ in resolutions) // 2:
        pad = max(n for n, _, _ in resolutions) // 2 + 1 - len(p)
        p, r = torch.nn.functional.pad(p, (0, pad)), torch.nn.functional.pad(r, (0, pad))
    values = np.array([stft_distance(p, r, *res) for res in resolutions])  # (R, 2)
    sc, logmag = values.mean(axis=0)
    return {"mrstft_sc": float(sc), "mrstft_logmag": float(logmag), "mrstft": float(sc + logmag)}
