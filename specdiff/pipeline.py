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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from specdiff.audio import (
    FRAMES_PER_SEGMENT,
    HOP_LENGTH,
    SAMPLE_RATE,
    atomic_path,
    scale_mel,
    unscale_mel,
)
from specdiff.diffusion.config import SamplerConfig
from specdiff.errors import SpecdiffError

TAIL_SECONDS = 1.0
"""Audio kept after the MIDI's end (after sustain) for the release, when the segments reach it."""
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 50 mel frames a second


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
    so, and each is an audible click (docs/builtin_model.md, "Why it is built this way"). A
    declared stage of the built-in bundle (``mel_stages=("fill_dropouts",)``), never of the
    official path. The thresholds are in the units of ``mel`` (give scaled ones for scaled
    features); other frames are untouched.
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


@dataclass(frozen=True)
class Passage:
    """Make seconds [start, end) of a previous rendering again, keeping all its other frames.

    Attributes:
        mel: (frames, n_mels) natural-log mel of the previous rendering (``--save-mel``), which
            the (possibly edited) MIDI must match in length.
        start, end: the range, in seconds.
        source: the mel's name in messages.
    """

    mel: np.ndarray
    start: float
    end: float
    source: str = "the previous mel"

    @classmethod
    def load(cls, path: str | os.PathLike, start: float, end: float) -> Passage:
        """Read the previous mel from a ``.npy`` file.

        Raises:
            SpecdiffError: the file is missing or not a NumPy array.
        """
        try:
            mel = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise SpecdiffError(f"{path}: no such file") from None
        except (OSError, ValueError) as error:
            raise SpecdiffError(f"{path}: not a .npy mel ({error})") from None
        return cls(mel, float(start), float(end), os.fspath(path))

    def frames(self, total: int, n_mels: int) -> tuple[int, int]:
        """(first, last) frame of the range in a piece of ``total`` frames (50 a second).

        Raises:
            SpecdiffError: the mel's shape or length does not fit the piece, or the range lies
                outside it.
        """
        shape = tuple(np.shape(self.mel))
        if len(shape) != 2 or shape[1] != n_mels:
            raise SpecdiffError(f"{self.source}: shape {shape}; expected (frames, {n_mels}), "
                                "the log-mel that --save-mel writes")
        if shape[0] != total:
            raise SpecdiffError(
                f"{self.source}: {shape[0]} frames ({shape[0] / FRAMES_PER_SECOND:.2f} s), but "
                f"this MIDI makes {total} ({total // FRAMES_PER_SEGMENT} segments of 5.12 s): "
                "it belongs to another piece, or the edit changed the piece's length; render it "
                "whole")
        if not 0 <= self.start < self.end:
            raise SpecdiffError(f"range {self.start:g}:{self.end:g} s: expected "
                                "0 <= START < END")
        first = round(self.start * FRAMES_PER_SECOND)
        last = round(self.end * FRAMES_PER_SECOND)
        if last > total:
            raise SpecdiffError(f"range {self.start:g}:{self.end:g} s: the piece's frames end "
                                f"at {total / FRAMES_PER_SECOND:.2f} s")
        return first, max(last, first + 1)


def window_starts(frames: int, overlap: int, first: int = 0, last: int | None = None,
                  length: int = FRAMES_PER_SEGMENT) -> list[int]:
    """Start frames of windows of ``length`` frames, each sharing ``overlap`` frames with the one
    before, from ``first`` until frame ``last`` (default ``frames``) is covered; no window starts
    past ``frames - length`` unless the piece is shorter than one window."""
    last = frames if last is None else last
    hop = length - overlap
    if hop < 1:
        raise SpecdiffError(f"overlap {overlap}: expected fewer than {length} frames")
    starts, start = [], first
    while True:
        start = max(0, min(start, frames - length))
        starts.append(start)
        if start + length >= last:
            return starts
        start += hop


def generate_windows(
    model,
    windows: Sequence[np.ndarray],
    starts: Sequence[int],
    frames: int,
    sampling: SamplerConfig = SamplerConfig(),
    *,
    known: tuple[np.ndarray, np.ndarray] | None = None,
    fade: int = 0,
    use_context: bool = True,
    seed: int = 0,
    progress: bool | None = None,
    mel_stages: Sequence[str] = (),
) -> Iterator[torch.Tensor]:
    """Generate frames [0, ``frames``) window by window, holding every frame already made fixed.

    Window k (token ids ``windows[k]``) covers frames [starts[k], starts[k] + T), T = the
    model's ``target_length``. Frames made by earlier windows, or given in ``known``, are held
    by inpainting (`specdiff.diffusion.inpaint`): the network generates the window's new frames
    to fit them, so overlapping windows join without a seam. A model with a context encoder
    (and ``use_context``) also sees the T frames before each window (masked where none exist).

    Args:
        known: (mel (frames, n_mels) unscaled log-mel, keep (frames,) bool): frames that stay
            exactly as given (passage re-generation); None: nothing known.
        fade: frames made by an earlier window are held with a weight falling from 1 to 0
            (cos^2) over a window's first ``fade`` frames, and made again as that blend: the old
            frames crossfade into the new ones. 0: held fully (a hard join).
        seed, progress, mel_stages: as for `generate_mels` (the stages run on each window's
            output before its new frames are kept).

    Yields:
        Unscaled log-mel frames in order, (n, n_mels) pieces, as soon as they are final;
        ``frames`` in all.
    """
    from specdiff.codec import pad_segments
    from specdiff.diffusion import sample_guided

    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    length, n_mels = model.config.target_length, model.config.n_mels
    size = max(frames, max(starts) + length)
    mel = torch.zeros(size, n_mels, device=device)  # scaled
    have = torch.zeros(size, dtype=torch.bool, device=device)
    given = keep = None
    if known is not None:
        given = torch.as_tensor(known[0], dtype=torch.float32)
        keep = torch.as_tensor(known[1], dtype=torch.bool)
        mel[:frames] = scale_mel(given.to(device), model.config.scaler_min,
                                 model.config.scaler_max)
        have[:frames] = keep.to(device)
    hard = have.clone()  # given frames never change
    # The weight of earlier windows' frames by position in a window: cos^2 from 1 to 0 over the
    # first ``fade`` frames, then 0 (the new window makes them again); fully held without a fade.
    ramp = torch.full((length,), 0.0 if fade else 1.0, device=device)
    ramp[:fade] = torch.cos(torch.linspace(0, math.pi / 2, fade + 2, device=device)[1:-1]) ** 2
    use_context = use_context and model.config.has_context
    stages = [MEL_STAGES[name](model.config) for name in mel_stages]
    per_window = _steps_per_sample(sampling.name, sampling.steps)
    done = 0
    with _progress(len(windows) * per_window, progress, "synthesizing") as bar:
        for k, (tokens, start) in enumerate(zip(windows, starts)):
            bar.set_postfix_str(f"window {k + 1}/{len(windows)}")
            span = slice(start, start + length)
            context = context_mask = None
            if use_context and start > 0:
                first = max(0, start - length)
                context = torch.zeros(1, length, n_mels, device=device)
                context_mask = torch.zeros(1, length, dtype=torch.bool, device=device)
                context[0, length - (start - first):] = mel[first:start]
                context_mask[0, length - (start - first):] = have[first:start]
            # Frames made by earlier windows are held less and less over the window's first
            # ``fade`` frames (a crossfade from the old frames to the new); given frames fully.
            made = have[span] & ~hard[span]
            weight = torch.where(made, ramp, have[span].float())[None, :, None]  # (1, T, 1)
            hold = (mel[span][None], weight) if bool(have[span].any()) else None
            ids = torch.from_numpy(pad_segments([tokens], model.config.max_tokens)).to(device)
            with torch.inference_mode():
                conditioning = model.encode(ids, context, context_mask)
                x = sample_guided(model.eps_fn(conditioning), (1, length, n_mels), sampling,
                                  generator, device, callback=lambda _: bar.update(1),
                                  known=hold)
                x = x.float().clamp(-1.0, 1.0)
                for stage in stages:
                    x = stage(x)
            new = weight[0, :, 0] < 1
            mel[span][new] = x[0][new]
            have[span] = True
            frontier = int(torch.argmin(have[:frames].int())) if not bool(have[:frames].all()) \
                else frames
            if k + 1 < len(starts):  # the next window may still fade these frames
                frontier = min(frontier, starts[k + 1])
            if frontier > done:
                out = unscale_mel(mel[done:frontier], model.config.scaler_min,
                                  model.config.scaler_max).cpu()
                if given is not None:  # kept frames exactly as given (no clipping by scaling)
                    out[keep[done:frontier]] = given[done:frontier][keep[done:frontier]]
                yield out
                done = frontier
    if done < frames:
        raise SpecdiffError(f"windows {list(starts)} leave frames {done}.. of {frames} unmade")


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
