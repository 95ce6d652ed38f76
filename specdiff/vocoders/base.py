"""The vocoder interface: unscaled natural-log mel (B, T, 128) -> audio (B, T * 320)."""

from __future__ import annotations

import abc

import numpy as np
import torch

from specdiff.audio.mel import HOP_LENGTH, N_MELS, SAMPLE_RATE


class Vocoder(abc.ABC):
    """Turns log-mel spectrograms into audio.

    Subclasses implement ``decode``; ``__call__`` normalises the input. Every vocoder takes the
    *unscaled* natural-log mel of the official front end (``specdiff.audio.log_mel``; use
    ``unscale_mel`` on model outputs first) and returns exactly ``hop_length`` samples per frame.

    Attributes:
        sample_rate: output sample rate in Hz (16 000).
        hop_length: output samples per mel frame (320).
        n_mels: mel bins expected per frame (128).
    """

    sample_rate: int = SAMPLE_RATE
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    extra_context_frames: int = 0
    """Frames of context beyond the per-frame network that a frame's audio depends on, each
    side (a pass over the audio after the network); ``vocode_stream`` adds them to its context."""
    carries_state: bool = False
    """Whether the output depends on every earlier frame (a recurrence over frames); such a
    vocoder implements ``decode_carrying``, and ``vocode_stream`` hands the state from chunk to
    chunk."""

    @abc.abstractmethod
    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) float32 log-mel -> (B, T * hop_length) float32 audio."""

    def decode_carrying(self, mel: torch.Tensor, carry_in: tuple[int, torch.Tensor] | None,
                        carry_out_at: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``decode`` for a ``carries_state`` vocoder, with its state passed in and out.

        Args:
            mel: (1, T, n_mels) log-mel.
            carry_in: ``(j, state)``: the state entering output frame j (frame j is centred on
                sample ``hop_length * j``), taken from another call; None: start afresh.
            carry_out_at: return the state after this output frame (None: don't).

        Returns:
            (1, T * hop_length) audio and the state asked for (or None).
        """
        raise NotImplementedError(f"{type(self).__name__} carries no state")

    def __call__(self, mel: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Vocode a batch of log-mel spectrograms.

        Args:
            mel: (B, T, n_mels) or (T, n_mels) unscaled natural-log mel, torch or numpy.

        Returns:
            (B, T * hop_length) or (T * hop_length,) float32 audio in about [-1, 1], at
            ``sample_rate``, on the input's device.
        """
        if isinstance(mel, np.ndarray):
            mel = torch.from_numpy(np.ascontiguousarray(mel))
        squeeze = mel.dim() == 2
        if squeeze:
            mel = mel[None]
        if mel.dim() != 3 or mel.shape[-1] != self.n_mels:
            raise ValueError(
                f"mel must be (B, T, {self.n_mels}) or (T, {self.n_mels}), got {tuple(mel.shape)}"
            )
        mel = mel.float()
        if mel.shape[1] == 0:
            audio = mel.new_zeros(mel.shape[0], 0)
        else:
            audio = self.decode(mel)
        expected = (mel.shape[0], mel.shape[1] * self.hop_length)
        if tuple(audio.shape) != expected:
            raise RuntimeError(
                f"{type(self).__name__} returned audio {tuple(audio.shape)}, expected {expected}"
            )
        return audio[0] if squeeze else audio

    def to(self, device: torch.device | str) -> Vocoder:
        """Move to ``device`` where that means something; returns self."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
