"""Streaming vocoding equals (or closely matches) vocoding the whole mel at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdiff.audio import log_mel
from specdiff.vocoders import GriffinLim, Vocoder
from specdiff.vocoders.stream import vocode_stream


class ConvVocoder(Vocoder):
    """A deterministic vocoder with a receptive field of +-2 frames (a 5-tap conv over frames)."""

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.weight = torch.randn(self.hop_length, self.n_mels, 5, generator=gen) * 0.01

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.conv1d(mel.transpose(1, 2), self.weight, padding=2)
        return torch.tanh(out).transpose(1, 2).reshape(mel.shape[0], -1)  # (B, T * hop)


def _pieces(mel: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    bounds = np.cumsum([0, *sizes])
    return [mel[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("sizes,chunk", [([256, 256, 256, 100], 256), ([700], 64), ([5] * 60, 40),
                                         ([3], 32), ([256, 256], 1024)])
def test_stream_equals_whole_for_a_local_vocoder(sizes, chunk):
    mel = torch.randn(sum(sizes), 128, generator=torch.Generator().manual_seed(1)) - 4
    vocoder = ConvVocoder()
    whole = vocoder(mel)
    streamed = torch.cat(list(vocode_stream(vocoder, _pieces(mel, sizes), chunk_frames=chunk)))
    assert streamed.shape == whole.shape == (sum(sizes) * 320,)
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-5)


def test_pieces_are_yielded_as_context_arrives():
    vocoder = ConvVocoder()
    seen = []

    def source():
        for k in range(4):
            seen.append(k)
            yield torch.zeros(256, 128)

    lengths = []
    for piece in vocode_stream(vocoder, source(), chunk_frames=256):
        lengths.append((len(seen), piece.shape[0]))
    # a chunk comes out once the next segment (its right context) has arrived
    assert [n for n, _ in lengths] == [2, 3, 4, 4]
    assert sum(size for _, size in lengths) == 4 * 256 * 320


def test_stream_of_griffin_lim_is_close_to_whole():
    # Griffin-Lim chunks have unrelated phases; the crossfade keeps the seams small.
    t = torch.arange(16000 * 6) / 16000
    audio = 0.3 * torch.sin(2 * torch.pi * (220 + 100 * t) * t) * (1 + torch.sin(3 * t))
    mel = log_mel(audio)  # (300, 128)
    vocoder = GriffinLim(n_iter=48)
    pieces = _pieces(mel, [100, 100, 100])
    streamed = torch.cat(list(vocode_stream(vocoder, pieces, chunk_frames=100)))
    whole = vocoder(mel)
    assert streamed.shape == whole.shape

    def convergence(x: torch.Tensor) -> float:
        return float(torch.linalg.norm(mel.exp() - log_mel(x).exp()) / torch.linalg.norm(mel.exp()))

    assert convergence(whole) < 0.1 and convergence(streamed) < 0.1  # measured 0.05 and 0.05


def test_bad_arguments():
    with pytest.raises(ValueError):
        list(vocode_stream(ConvVocoder(), [torch.zeros(10, 128)], context_frames=2,
                           crossfade_frames=8))
    assert list(vocode_stream(ConvVocoder(), [])) == []
