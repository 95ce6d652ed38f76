"""Guided cross-attention: a training-only loss that shows one decoder head where the notes are.

A spectrogram frame must find, among up to 2048 event tokens, the ones that happen at its time.
Cross-attention learns that alignment from scratch only slowly: on `scripts/conditioning_toy.py`
(piano-roll target, 1 500 steps) x0 MSE at t = 0.9 with a window's own / another window's tokens
is 0.1074 / 0.1078 without this loss and 0.0984 / 0.1000 with it. The built-in model does not use
it: its note roll (`specdiff.models.note_roll`) states the alignment outright. The guided
attention loss of DC-TTS (Tachibana et al. 2018) gives it the answer it has to find: head 0 of
the first decoder layer's cross-attention is penalised for attending to tokens far in time from
its frame,

    loss = mean over frames f of  sum_l A[f, l] (1 - exp(-(f - frame(l))^2 / (2 w^2))),

where ``frame(l)`` is the frame of token l's event time (the last shift token at or before it;
0 for the tie section before the first shift) and context keys always weigh 1. The model, its
weights and its inference are unchanged: the loss only shapes what training finds.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor

from specdiff.codec.config import OFFICIAL_CODEC
from specdiff.models import trim_padding
from specdiff.models.decoder import CrossMemory


def token_frames(tokens: Tensor, codec=OFFICIAL_CODEC) -> Tensor:
    """Frame of each token's event time: (B, L) int ids -> (B, L) float32 frames.

    A shift token names the absolute time (in ``1 / steps_per_second`` steps from the segment
    start) of the events after it; tokens before the first shift (the tie section) are at 0.
    """
    first, last = codec.token("shift", 0), codec.token("shift", codec.max_shift_steps)
    is_shift = (tokens >= first) & (tokens <= last)
    positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    latest = torch.where(is_shift, positions, -1).cummax(dim=1).values  # last shift at or before
    steps = (tokens - first).gather(1, latest.clamp(min=0))
    steps = torch.where(latest >= 0, steps, 0)
    return steps.float() / codec.steps_per_frame


def guide_weights(frames: Tensor, num_frames: int, width: float, extra_keys: int = 0) -> Tensor:
    """Penalty of frame f attending to each key: (B, L) token frames -> (B, num_frames, L + extra).

    1 - exp(-(f - frame)^2 / (2 width^2)) for note tokens; 1 for the ``extra_keys`` (context)
    that follow them.
    """
    f = torch.arange(num_frames, dtype=torch.float32, device=frames.device)[None, :, None]
    weights = 1 - torch.exp(-(f - frames[:, None, :]) ** 2 / (2 * width**2))
    if extra_keys:
        weights = torch.cat([weights, weights.new_ones(*weights.shape[:2], extra_keys)], dim=2)
    return weights


@contextmanager
def capture_cross_attention_queries(model):
    """Within the block, ``captured["queries"]`` is the input of the first decoder layer's
    cross-attention (its normed stream, (B, T, d)) from the latest forward pass."""
    captured: dict[str, Tensor] = {}
    layer = model.decoder.layers[0]

    def hook(module, inputs, output):
        captured["queries"] = output

    handle = layer.cross_attention_norm.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def guided_attention_loss(model, queries: Tensor, memory: CrossMemory, mask: Tensor,
                          tokens: Tensor, width: float) -> Tensor:
    """The guided loss of head 0 of the first decoder layer's cross-attention.

    Args:
        model: the `SpectrogramDiffusion` whose forward pass produced ``queries``.
        queries: (B, T, d) captured by `capture_cross_attention_queries`.
        memory: ``model.memory(conditioning)`` of what `model.encode` returned for ``tokens``
            (L' note keys [+ T_c context keys]), the memory of that forward pass.
        mask: (B, L' [+ T_c]) bool key mask, ``conditioning.mask``.
        tokens: (B, L) the token ids given to `encode` (which trimmed them to L' columns).
        width: the Gaussian's width in frames.

    Returns:
        Scalar: the mean over frames of rows that have note tokens (0 if none has).
    """
    attention = model.decoder.layers[0].cross_attention
    dh = attention.head_dim
    q = attention.q(queries)[..., :dh]
    k = memory.keys[0][:, 0]  # (B, Lk, Dh): head 0 of the first layer
    logits = (q @ k.to(q.dtype).transpose(1, 2)).float() * attention.scale
    logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
    tokens = trim_padding(tokens)
    num_notes = tokens.shape[1]
    frames = token_frames(tokens, model.config.token_codec)
    weights = guide_weights(frames, queries.shape[1], width, k.shape[1] - num_notes)
    has_notes = mask[:, :num_notes].any(dim=1)
    if not bool(has_notes.any()):
        return logits.new_zeros(())
    probs = torch.softmax(logits[has_notes], dim=-1)
    return (probs * weights[has_notes]).sum(-1).mean()
