"""Discriminators and adversarial losses for vocoder training (HiFi-GAN / Vocos style).

Two families judge the vocoder's audio, as in Vocos:

* ``PeriodDiscriminator`` folds the waveform into rows of ``period`` samples and runs 2D
  convolutions down the columns, so it sees whether the signal repeats with that period: the
  periodic structure (pitch) that spectral losses measure only coarsely.
* ``ResolutionDiscriminator`` runs 2D convolutions over one STFT log-magnitude, so it sees the
  spectro-temporal texture (a comb of lines at the frame rate, smeared partials, noise that
  should be noise).

Losses are the hinge losses of Vocos and feature matching (L1 between the discriminators'
hidden activations on real and generated audio). Channel widths are a config, so the same code
trains a slim set on a CPU and the paper-size set on a GPU. ``specdiff.training.VocoderModule``
trains them alongside the vocoder.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

_SLOPE = 0.1


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The discriminator set.

    Attributes:
        periods: one ``PeriodDiscriminator`` per period, in samples (HiFi-GAN: 2, 3, 5, 7, 11).
        period_channels: channels of its convolutions, layer by layer (HiFi-GAN: 32, 128, 512,
            1024, 1024).
        resolutions: one ``ResolutionDiscriminator`` per (n_fft, hop, window).
        resolution_channels: channels of its convolutions (Vocos: 32).
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (16, 32, 64, 128, 128)
    resolutions: tuple[tuple[int, int, int], ...] = (
        (512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))
    resolution_channels: int = 16

    @classmethod
    def from_dict(cls, data: dict) -> DiscriminatorConfig:
        data = dict(data)
        for name in ("periods", "period_channels"):
            if name in data:
                data[name] = tuple(data[name])
        if "resolutions" in data:
            data["resolutions"] = tuple(tuple(r) for r in data["resolutions"])
        return cls(**data)


def _judge(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU convolutions then a linear ``post`` layer: (B, N) scores and every layer's
    activations (the last being the scores' map)."""
    features = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), _SLOPE)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    """(B, n) audio -> (B, N) scores and the hidden activations, for one period."""

    def __init__(self, period: int, channels: tuple[int, ...]):
        super().__init__()
        self.period = period
        widths = (1, *channels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(c_in, c_out, (5, 1), (3, 1) if i < len(channels) - 1 else 1,
                                  padding=(2, 0)))
            for i, (c_in, c_out) in enumerate(itertools.pairwise(widths))
        )
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, samples = audio.shape
        pad = -samples % self.period
        x = nn.functional.pad(audio, (0, pad), mode="reflect") if pad else audio
        x = x.view(batch, 1, -1, self.period)  # (B, 1, n / period, period)
        return _judge(self.convs, self.post, x)


class ResolutionDiscriminator(nn.Module):
    """(B, n) audio -> (B, N) scores and the hidden activations, for one STFT resolution."""

    def __init__(self, resolution: tuple[int, int, int], channels: int):
        super().__init__()
        self.resolution = resolution
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
            *(weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4)))
              for _ in range(3)),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))
        self.register_buffer("window", torch.hann_window(resolution[2]), persistent=False)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        n_fft, hop, win = self.resolution
        spec = torch.stft(audio, n_fft, hop, win, self.window, center=True, return_complex=True)
        x = spec.abs().clamp_min(1e-5).log().transpose(1, 2).unsqueeze(1)  # (B, 1, T', F)
        return _judge(self.convs, self.post, x)


class Discriminators(nn.Module):
    """All of a ``DiscriminatorConfig``'s discriminators: (B, n) audio -> per discriminator,
    its scores and hidden activations."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList([
            *(PeriodDiscriminator(p, config.period_channels) for p in config.periods),
            *(ResolutionDiscriminator(r, config.resolution_channels)
              for r in config.resolutions),
        ])

    def forward(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [member(audio) for member in self.members]


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """Hinge loss of the discriminators, summed over members: real scores pushed above 1,
    generated ones below -1. ``real`` and ``fake`` are ``Discriminators`` outputs."""
    total = real[0][0].new_zeros(())
    for (score_real, _), (score_fake, _) in zip(real, fake):
        total = total + torch.relu(1 - score_real).mean() + torch.relu(1 + score_fake).mean()
    return total


def generator_loss(fake: list) -> torch.Tensor:
    """Hinge loss of the generator, summed over members: its scores pushed above 1."""
    return sum(torch.relu(1 - score).mean() for score, _ in fake)


def feature_loss(real: list, fake: list) -> torch.Tensor:
    """Feature matching, summed over members: mean over layers of the L1 distance between the
    activations on real audio (held fixed) and on generated audio."""
    total = fake[0][0].new_zeros(())
    for (_, feats_real), (_, feats_fake) in zip(real, fake):
        layers = [(f - r.detach()).abs().mean() for r, f in zip(feats_real, feats_fake)]
        total = total + sum(layers) / len(layers)
    return total


def generator_terms(discriminators: Discriminators, real: torch.Tensor, fake: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's hinge and feature-matching losses on (B, n) real and generated audio;
    gradients reach ``fake`` only, not the discriminators."""
    with torch.no_grad():
        judged_real = discriminators(real)
    discriminators.requires_grad_(False)
    try:
        judged_fake = discriminators(fake)
    finally:
        discriminators.requires_grad_(True)
    return generator_loss(judged_fake), feature_loss(judged_real, judged_fake)
