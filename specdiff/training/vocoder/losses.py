"""Losses of vocoder training: log-mel L1, multi-resolution STFT and phase-difference losses."""

from __future__ import annotations

import torch

from specdiff.audio.mel import HOP_LENGTH, log_mel
from specdiff.evaluation.spectral import MRSTFT_RESOLUTIONS


def stft_loss(pred: torch.Tensor, target: torch.Tensor,
              resolutions=MRSTFT_RESOLUTIONS) -> torch.Tensor:
    """Multi-resolution STFT loss of (B, n) signals: mean over resolutions of spectral
    convergence + log-magnitude L1."""
    total = pred.new_zeros(())
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=pred.device)
        mags = [torch.stft(x, n_fft, hop, win, window, center=True, return_complex=True)
                .abs().clamp_min(1e-7) for x in (pred, target)]  # (B, F, T') each
        sc = torch.linalg.norm(mags[1] - mags[0]) / torch.linalg.norm(mags[1]).clamp_min(1e-7)
        total = total + sc + (mags[1].log() - mags[0].log()).abs().mean()
    return total / len(resolutions)


def phase_difference_loss(pred: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """How far the phase differences of complex STFT frames ``pred`` (B, F, T) are from those of
    ``reference`` (the same shape and framing).

    Per pair of neighbouring frames (instantaneous frequency) and of neighbouring bins (group
    delay: where in the frame the energy sits, what makes an attack sharp) the loss is 1 - cos
    of the difference between predicted and reference phase differences, averaged with weights
    sqrt(|R_1 R_2|) of the reference, so silent bins do not count. Absolute phase, which the mel
    does not determine, is not compared.
    """

    def pairs(a0, a1, b0, b1) -> torch.Tensor:
        dp, dr = a1 * a0.conj(), b1 * b0.conj()
        cos = (dp * dr.conj()).real / (dp.abs() * dr.abs() + 1e-9)
        weight = dr.abs().sqrt()
        return (weight * (1 - cos)).sum() / weight.sum().clamp_min(1e-9)

    along_time = pairs(pred[..., :-1], pred[..., 1:], reference[..., :-1], reference[..., 1:])
    along_bins = pairs(pred[:, :-1], pred[:, 1:], reference[:, :-1], reference[:, 1:])
    return along_time + along_bins


def phase_loss(spec: torch.Tensor, target: torch.Tensor, n_fft: int,
               hop: int = HOP_LENGTH) -> torch.Tensor:
    """``phase_difference_loss`` of a ``VocosNet``'s predicted frames against the target audio.

    ``spec`` (B, F, T + 2) are the frames (frame j centred on sample ``hop * j``), ``target``
    (B, T * hop) the audio they should make; its STFT with the same framing is the reference.
    The edge frames are left out.
    """
    window = torch.hann_window(n_fft, device=target.device)
    reference = torch.stft(target, n_fft, hop, n_fft, window, center=True,
                           return_complex=True)  # (B, F, T + 1)
    frames = min(spec.shape[-1], reference.shape[-1]) - 1
    return phase_difference_loss(spec[..., 1:frames], reference[..., 1:frames])


def audio_phase_loss(pred: torch.Tensor, target: torch.Tensor,
                     resolution: tuple[int, int, int] = (1024, 80, 640)) -> torch.Tensor:
    """``phase_difference_loss`` of the output audio itself: (B, n) signals analysed with one
    (n_fft, hop, window) STFT, finer than the vocoder's own frames by default, so it judges the
    phase that overlap-add actually produced."""
    n_fft, hop, win = resolution
    window = torch.hann_window(win, device=pred.device)
    specs = [torch.stft(x, n_fft, hop, win, window, center=True, return_complex=True)
             for x in (pred, target)]
    return phase_difference_loss(specs[0][..., 1:-1], specs[1][..., 1:-1])


def mel_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the official log-mels of (B, n) signals."""
    return (log_mel(pred) - log_mel(target)).abs().mean()
