"""Generation mechanics: token segments -> diffusion per segment -> log-mel -> streamed audio.

Segments of 5.12 s (256 frames) are generated strictly in order. With ``continuation="context"``
a model with a context encoder sees the previous segment's generated spectrogram (scaled,
clipped) as context, the first segment's context masked, as the official inference does; a model
without one (or ``continuation="none"``) generates its segments in batches. Mel post-processing
runs only as the stages a bundle declares (`specdiff.bundle`). The mel is vocoded in chunks as
segments finish (``vocode_stream``), so memory stays flat with the length of the piece; the
`specdiff.synthesizer.Synthesizer` writes it as it goes.

Models of the unofficial port bring their own settings in their config: the port's 901-token
codec with raw programs, their stored min/max scaler (no clipping), a first-segment context of
silence (the scaled log-mel of 81 920 zero samples, as the port's ``infer.py``), and one segment
per batch, because the port attends to padding. Autoregressive models (the port's or ours)
generate each segment frame by frame.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from specdiff.audio import FRAMES_PER_SEGMENT, atomic_path, scale_mel, unscale_mel
from specdiff.diffusion.config import SamplerConfig
from specdiff.errors import SpecdiffError

TAIL_SECONDS = 1.0
"""Audio kept after the MIDI's end (after sustain) for the release, when the segments reach it."""


def load_notes(midi: str | os.PathLike | object):
    """A ``NoteSequence`` from a MIDI path (read with sustain) or a ``NoteSequence`` as is."""
    from specdiff.codec import NoteSequence, read_midi

    if isinstance(midi, NoteSequence):
        return midi
    if isinstance(midi, (str, os.PathLike)):
        return read_midi(midi)
    raise TypeError(f"expected a MIDI path or a NoteSequence, got {type(midi).__name__}")


def _progress(total: int, enabled: bool | None, desc: str):
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit="step", desc=desc, disable=not enabled, leave=False,
                dynamic_ncols=True)


def _steps_per_sample(sampler: str, steps: int | None) -> int:
    from specdiff.diffusion import sampler_grid

    grid = sampler_grid(sampler, steps)
    return len(grid) if sampler == "ddpm_discrete" else len(grid) - 1


DROPOUT_BELOW = -7.0
"""Mean log-mel (nats) under which a frame between two sounding ones is a dropout."""
DROPOUT_AROUND = -4.0
"""Mean log-mel (nats) over which both neighbours of a dropout lie."""


def fill_dropouts(mel: torch.Tensor, below: float = DROPOUT_BELOW,
                  around: float = DROPOUT_AROUND) -> torch.Tensor:
    """Replace isolated silent frames of generated (B, T, n_mels) log-mels by the mean of
    their neighbours.

    A frame whose mean is under ``below`` while both neighbours' means are over ``around``
    says the music stopped dead for one 20 ms frame and went on. The rendered corpus never
    does that (0 of its 566 563 frames); the built-in model draws about one in 240 frames
    so, and each is an audible click (docs/default_model.md). A declared stage of the built-in
    bundle (``mel_stages=("fill_dropouts",)``), never of the official path. The thresholds are
    in the
    units of ``mel`` (give scaled ones for scaled features); other frames are untouched.
    """
    if mel.shape[1] < 3:
        return mel
    level = mel.mean(-1)  # (B, T)
    inner = level[:, 1:-1]
    dropout = (inner < below) & (level[:, :-2] > around) & (level[:, 2:] > around)
    if not dropout.any():
        return mel
    filled = mel.clone()
    neighbours = (mel[:, :-2] + mel[:, 2:]) / 2
    filled[:, 1:-1] = torch.where(dropout[..., None], neighbours, mel[:, 1:-1])
    return filled


def _dropout_stage(config) -> Callable[[torch.Tensor], torch.Tensor]:
    """`fill_dropouts` with its levels in ``config``'s scaled space."""
    below, around = scale_mel(torch.tensor([DROPOUT_BELOW, DROPOUT_AROUND]),
                              config.scaler_min, config.scaler_max).tolist()
    return lambda x: fill_dropouts(x, below, around)


MEL_STAGES: dict[str, Callable] = {"fill_dropouts": _dropout_stage}
"""Mel stage name -> ``factory(model config) -> fn(scaled mel (B, T, n_mels)) -> same``."""


def generate_mels(
    model,
    segments: Sequence[np.ndarray],
    sampling: SamplerConfig = SamplerConfig(),
    *,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool | None = None,
    mel_stages: Sequence[str] = (),
    continuation: str = "context",
    segment_seeds: Sequence[int] | None = None,
) -> Iterator[torch.Tensor]:
    """Generate each segment's spectrogram, in order.

    Args:
        model: a ``SpectrogramDiffusion`` or ``AutoregressiveModel`` (eval mode, on its device).
        segments: token ids per segment, e.g. ``tokenize_notes(notes)``; each (L_k,) int.
        sampling: sampler, steps and guidance of every segment.
        seed: seeds the one generator that draws all noise, so results are reproducible
            (for the same device, sampler, steps and batch size).
        batch_size: segments generated together by a model without a context encoder.
        progress: a progress bar on stderr; None = only when stderr is a terminal.
        mel_stages: post-processing of each segment (`MEL_STAGES` names), before it becomes the
            next segment's context; none on the official path.
        continuation: ``"context"`` (a model with a context encoder sees the previous segment)
            or ``"none"`` (every segment alone).
        segment_seeds: one seed per segment, instead of ``seed``: segment k's noise comes from
            its own generator, so it does not depend on the segments batched with it (segments
            generated alone only: a model without context, or ``continuation="none"``).

    Yields:
        (256, 128) float32 unscaled natural-log mel per segment, on the CPU.
    """
    from specdiff.codec import pad_segments
    from specdiff.diffusion import sample_guided

    if not hasattr(model, "eps_fn"):  # an autoregressive model: no sampler, no guidance
        yield from _generate_ar_mels(model, segments, batch_size, progress)
        return
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    frames, n_mels = model.config.target_length, model.config.n_mels
    has_context = model.config.has_context and continuation == "context"
    # A model that attends to padding (the port) sees each segment alone, as in the port.
    group = 1 if has_context or not model.config.mask_padding else max(1, batch_size)
    if segment_seeds is not None and (has_context or len(segment_seeds) != len(segments)):
        raise ValueError("segment_seeds: one per segment, for segments generated alone")
    per_sample = _steps_per_sample(sampling.name, sampling.steps)
    stages = [MEL_STAGES[name](model.config) for name in mel_stages]
    context: torch.Tensor | None = None  # (1, T, n_mels) previous output, scaled
    with _progress(len(segments) * per_sample, progress, "synthesizing") as bar:
        for first in range(0, len(segments), group):
            batch = segments[first : first + group]
            bar.set_postfix_str(f"segment {first + len(batch)}/{len(segments)}")
            tokens = torch.from_numpy(pad_segments(list(batch), model.config.max_tokens))
            with torch.inference_mode():
                conditioning = model.encode(tokens.to(device), context)
                if segment_seeds is not None:
                    generator = [torch.Generator(device=device).manual_seed(int(s))
                                 for s in segment_seeds[first : first + group]]
                x = sample_guided(model.eps_fn(conditioning), (len(batch), frames, n_mels),
                                  sampling, generator, device,
                                  callback=lambda _: bar.update(1))  # (b, T, n_mels), [-1, 1]
                x = x.float().clamp(-1.0, 1.0)
                for stage in stages:
                    x = stage(x)
            if has_context:
                context = x
            yield from unscale_mel(x, model.config.scaler_min, model.config.scaler_max).cpu()


def _generate_ar_mels(model, segments: Sequence[np.ndarray], batch_size: int,
                      progress: bool | None) -> Iterator[torch.Tensor]:
    """`generate_mels` for an ``AutoregressiveModel``: (256, 128) log-mel per segment."""
    from specdiff.codec import pad_segments

    group = max(1, batch_size) if model.config.mask_padding else 1
    with _progress(len(segments), progress, "synthesizing") as bar:
        for first in range(0, len(segments), group):
            batch = segments[first : first + group]
            tokens = torch.from_numpy(pad_segments(list(batch), model.config.max_tokens))
            with torch.inference_mode():
                mel = model.generate(tokens.to(model.device))  # (b, 256, n_mels) log-mel
            bar.update(len(batch))
            yield from mel.float().cpu()


def audio_length(total_time: float, num_segments: int, tail_seconds: float, rate: int) -> int:
    """Samples kept of ``num_segments`` segments: up to the MIDI's end plus the tail."""
    full = num_segments * FRAMES_PER_SEGMENT * (rate // 50)
    return max(1, min(full, math.ceil((total_time + tail_seconds) * rate)))


def trim_stream(pieces: Iterator[torch.Tensor], limit: int) -> Iterator[np.ndarray]:
    """The first ``limit`` samples of a stream of audio pieces, as NumPy."""
    done = 0
    for piece in pieces:
        if done >= limit:
            continue  # only the last segment is trimmed; keep draining so the mel saver finishes
        keep = piece[: limit - done].cpu().numpy()
        done += keep.shape[0]
        yield keep


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so partial outputs are cleaned up (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class MelSaver:
    """Write segment mels into a .npy (memory-mapped) temporary file; renamed on success."""

    def __init__(self, path: Path, frames: int, n_mels: int, stack: contextlib.ExitStack):
        if path.suffix.lower() != ".npy":
            raise SpecdiffError(f"{path}: the mel is saved as NumPy; expected a .npy file name")
        self.tmp = stack.enter_context(atomic_path(path))
        self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=np.float32,
                                               shape=(frames, n_mels))
        self.pos = 0

    def __call__(self, mels: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
        for mel in mels:
            self.array[self.pos : self.pos + len(mel)] = mel.numpy()
            self.pos += len(mel)
            yield mel
        self.array.flush()
        del self.array
