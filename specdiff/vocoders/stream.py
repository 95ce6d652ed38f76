"""Streaming vocoding: mel arriving in pieces -> audio in pieces, with bounded memory.

The mel is vocoded in chunks that see ``context_frames`` of their neighbours on each side; the
chunks' audio is joined with a raised-cosine crossfade of ``crossfade_frames`` centred on each
chunk boundary. For a vocoder whose receptive field is within the context, the result equals
vocoding the whole mel at once; for Griffin-Lim the crossfade hides the phase mismatch.

A vocoder with a recurrence over frames (``Vocoder.carries_state``: the recurrent-phase neural
vocoder) sees all earlier frames; each chunk then takes its state from the previous chunk at
frame ``context_frames - crossfade_frames / 2 - 2`` of its left context, where the previous chunk
computed it exactly. That too equals one call, when the left context minus those frames still
covers the receptive field of the per-frame network.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from specdiff.vocoders.base import Vocoder


def _fades(samples: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # sin^2 / cos^2: the two sum to exactly one (identical signals pass unchanged).
    ramp = torch.sin(0.5 * torch.pi * (torch.arange(samples, device=device) + 0.5) / samples) ** 2
    return ramp, 1.0 - ramp


def vocode_stream(
    vocoder: Vocoder,
    mels: Iterable[torch.Tensor | np.ndarray],
    chunk_frames: int = 1024,
    context_frames: int = 32,
    crossfade_frames: int = 4,
) -> Iterator[torch.Tensor]:
    """Vocode a mel that arrives in pieces.

    Args:
        vocoder: any ``Vocoder``.
        mels: pieces (T_i, n_mels) of one unscaled log-mel, in order (e.g. one per segment).
        chunk_frames: frames vocoded per call (plus context); bounds memory and latency.
        context_frames: frames of left/right context each call sees (>= crossfade_frames / 2),
            plus the vocoder's ``extra_context_frames`` (a pass over its audio after the
            per-frame network, such as the neural vocoder's phase refinement).
        crossfade_frames: length of the crossfade at each chunk boundary (even).

    Yields:
        (n_i,) float32 audio pieces on the mel's device; concatenated they are exactly
        (sum T_i) * hop_length samples long. A piece is yielded as soon as the following
        context has arrived.
    """
    if crossfade_frames % 2 or crossfade_frames < 0 or context_frames < crossfade_frames // 2:
        raise ValueError("crossfade_frames must be even and at most 2 * context_frames")
    if chunk_frames < max(crossfade_frames, 1):
        raise ValueError("chunk_frames must be at least crossfade_frames")
    hop, half = vocoder.hop_length, crossfade_frames // 2
    context = context_frames + vocoder.extra_context_frames
    buffer: torch.Tensor | None = None  # frames [buffer_start, buffer_start + len)
    buffer_start = 0
    start = 0  # first frame of the next chunk's core
    tail: torch.Tensor | None = None  # faded-out audio over [start - half, start + half)
    # A recurrent vocoder's state enters a chunk at this frame of its left context, handed on
    # from the previous chunk (which computed that frame with all the context it needs); the
    # extra context frames lie between it and the chunk's core.
    lead = context_frames - half - 2 if vocoder.carries_state else 0
    carry: torch.Tensor | None = None

    def run(stop: int, final: bool) -> torch.Tensor:
        nonlocal buffer, buffer_start, start, tail, carry
        assert buffer is not None
        lo = max(0, start - context)
        hi = stop if final else stop + context
        mel = buffer[lo - buffer_start : hi - buffer_start][None]  # frames [lo, hi)
        if lead > 0:
            next_lo = stop - context
            audio, carry = vocoder.decode_carrying(
                mel, (lead, carry) if lo > 0 else None,
                next_lo + lead - 1 - lo if not final and next_lo > 0 else None)
            audio = audio[0]
        else:
            audio = vocoder(mel)[0]
        keep_lo = start - half if start > 0 else 0
        keep_hi = stop if final else stop + half
        piece = audio[(keep_lo - lo) * hop : (keep_hi - lo) * hop]
        fade = crossfade_frames * hop
        if start > 0 and fade:
            fade_in, _ = _fades(fade, piece.device)
            piece = torch.cat([tail + piece[:fade] * fade_in, piece[fade:]])
        if not final and fade:
            _, fade_out = _fades(fade, piece.device)
            piece, tail = piece[:-fade], piece[-fade:] * fade_out
        start = stop
        drop = max(0, start - context) - buffer_start  # keep the next chunk's context
        buffer, buffer_start = buffer[drop:], buffer_start + drop
        return piece

    for mel in mels:
        if isinstance(mel, np.ndarray):
            mel = torch.from_numpy(np.ascontiguousarray(mel))
        mel = mel.float()
        buffer = mel if buffer is None else torch.cat([buffer, mel.to(buffer.device)])
        while buffer_start + len(buffer) >= start + chunk_frames + context:
            yield run(start + chunk_frames, final=False)
    if buffer is not None and (buffer_start + len(buffer) > start or start == 0):
        yield run(buffer_start + len(buffer), final=True)
