"""Whole-file synthesis: MIDI -> token segments -> diffusion per segment -> stitched mel -> audio.

Segments of 5.12 s (256 frames) are generated strictly in order. A model with a context encoder
sees the previous segment's generated spectrogram (scaled, clipped) as context, the first
segment's context masked, as the official inference does; a model without one generates its
segments in batches. The mel is vocoded in chunks as segments finish (``vocode_stream``) and
written as it goes, so memory stays flat with the length of the piece.

Models of the unofficial port (loaded from its ``.ckpt``, see ``specdiff.models.port``) bring their
own settings in their config: the port's 901-token codec with raw programs, their stored min/max
scaler (no clipping), a first-segment context of silence (the scaled log-mel of 81 920 zero
samples, as the port's ``infer.py``), and one segment per batch, because the port attends to
padding. Autoregressive models (the port's or ours) generate each segment frame by frame.
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
    SAMPLE_RATE,
    AudioFileWriter,
    atomic_path,
    scale_mel,
    unscale_mel,
)
from specdiff.errors import SpecdiffError

BUILTIN_MODEL = Path(__file__).with_name("assets") / "default_model.safetensors"
"""The built-in model used when none is given: trained here on a FluidR3-rendered corpus
(docs/default_model.md), stored as float16. It synthesizes with specdiff's own vocoder."""
BUILTIN_VOCODER = "specdiff"
DEFAULT_SAMPLER = "dpmpp_2m"
DEFAULT_GUIDANCE = 2.0
"""Classifier-free guidance weight (official Colab and the port; the official code says 5.0)."""
BUILTIN_GUIDANCE = 3.0
"""The built-in model's guidance weight: onset F1 0.490 against 0.425 at 2 on 12 validation
pieces (docs/default_model.md); a model's ``default_guidance`` overrides ``DEFAULT_GUIDANCE``."""
TAIL_SECONDS = 1.0
"""Audio kept after the MIDI's end (after sustain) for the release, when the segments reach it."""


@dataclass(frozen=True)
class SynthesisResult:
    """What ``synthesize_to_file`` wrote.

    Attributes:
        path: the audio file.
        num_samples: audio length in samples.
        sample_rate: Hz.
        num_segments: 5.12 s segments generated.
        mel_path: the saved mel (``.npy``, (num_segments * 256, 128) unscaled log-mel), if any.
    """

    path: Path
    num_samples: int
    sample_rate: int
    num_segments: int
    mel_path: Path | None = None

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sample_rate


def load_notes(midi: str | os.PathLike | object):
    """A ``NoteSequence`` from a MIDI path (read with sustain) or a ``NoteSequence`` as is."""
    from specdiff.codec import NoteSequence, read_midi

    if isinstance(midi, NoteSequence):
        return midi
    if isinstance(midi, (str, os.PathLike)):
        return read_midi(midi)
    raise TypeError(f"expected a MIDI path or a NoteSequence, got {type(midi).__name__}")


def load_model(model=None, device: str | torch.device | None = None, port_config=None):
    """Resolve ``model``: a ``SpectrogramDiffusion`` or ``AutoregressiveModel``, a checkpoint
    path (ours, diffusers layout, the port's ``.ckpt``) or hub id, or (None) the built-in model,
    whose default vocoder is specdiff's own.

    ``port_config``: the port's YAML config for a ``.ckpt`` (None: sizes from the tensors).

    Raises:
        SpecdiffError: a bad checkpoint (or the built-in one missing from the install).
    """
    from specdiff.checkpoints import load_any
    from specdiff.models import SpectrogramDiffusion
    from specdiff.models.autoregressive import AutoregressiveModel

    if model is None:
        if not BUILTIN_MODEL.is_file():
            raise SpecdiffError(
                f"no model given and the built-in model {BUILTIN_MODEL} is missing (a partial "
                "install?); pass a checkpoint (a specdiff .safetensors file, a diffusers-layout "
                "folder or a hub id)")
        model = load_any(BUILTIN_MODEL, device=device)
        model.vocoder_path = BUILTIN_VOCODER
        model.default_guidance = BUILTIN_GUIDANCE
    elif not isinstance(model, (SpectrogramDiffusion, AutoregressiveModel)):
        model = load_any(model, port_config=port_config, device=device)
    elif device is not None:
        model = model.to(device)
    return model.eval()


def default_guidance(model) -> float:
    """The guidance weight ``synthesize`` uses for ``model`` when given none: the model's own
    ``default_guidance`` (the built-in model's ``BUILTIN_GUIDANCE``) or ``DEFAULT_GUIDANCE``."""
    weight = getattr(model, "default_guidance", None)
    return float(DEFAULT_GUIDANCE if weight is None else weight)


def _sampling_options(model, sampler: str, steps: int | None, guidance: float | None, seed: int,
                      batch_size: int, progress: bool | None) -> dict:
    """``generate_mels`` keyword arguments, ``guidance=None`` resolved for ``model``."""
    return dict(sampler=sampler, steps=steps, seed=seed, batch_size=batch_size, progress=progress,
                guidance=default_guidance(model) if guidance is None else guidance)


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
    so, and each is an audible click (docs/default_model.md). The thresholds are in the
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


def generate_mels(
    model,
    segments: Sequence[np.ndarray],
    *,
    sampler: str = DEFAULT_SAMPLER,
    steps: int | None = None,
    guidance: float = DEFAULT_GUIDANCE,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool | None = None,
) -> Iterator[torch.Tensor]:
    """Generate each segment's spectrogram, in order.

    Args:
        model: a ``SpectrogramDiffusion`` (eval mode, on its device).
        segments: token ids per segment, e.g. ``tokenize_notes(notes)``; each (L_k,) int.
        sampler, steps: see ``specdiff.diffusion.sample``.
        guidance: classifier-free guidance weight (1 = none).
        seed: seeds the one generator that draws all noise, so results are reproducible
            (for the same device, sampler, steps and batch size).
        batch_size: segments generated together by a model without a context encoder.
        progress: a progress bar on stderr; None = only when stderr is a terminal.

    Yields:
        (256, 128) float32 unscaled natural-log mel per segment, on the CPU, with isolated
        silent frames filled (``fill_dropouts``) before it is the next segment's context.
    """
    from specdiff.codec import pad_segments
    from specdiff.diffusion import cfg, get_sampler, sample

    if not hasattr(model, "eps_fn"):  # an autoregressive model: no sampler, no guidance
        yield from _generate_ar_mels(model, segments, batch_size, progress)
        return
    get_sampler(sampler)  # fail early on an unknown name
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    frames, n_mels = model.config.target_length, model.config.n_mels
    has_context = model.config.has_context
    # A model that attends to padding (the port) sees each segment alone, as in the port.
    group = 1 if has_context or not model.config.mask_padding else max(1, batch_size)
    per_sample = _steps_per_sample(sampler, steps)
    dropout_levels = scale_mel(torch.tensor([DROPOUT_BELOW, DROPOUT_AROUND]),
                               model.config.scaler_min, model.config.scaler_max).tolist()
    context: torch.Tensor | None = None  # (1, T, n_mels) previous output, scaled
    with _progress(len(segments) * per_sample, progress, "synthesizing") as bar:
        for first in range(0, len(segments), group):
            batch = segments[first : first + group]
            bar.set_postfix_str(f"segment {first + len(batch)}/{len(segments)}")
            tokens = torch.from_numpy(pad_segments(list(batch), model.config.max_tokens))
            with torch.inference_mode():
                encodings, mask = model.encode(tokens.to(device), context)
                model_fn = cfg(model.eps_fn(encodings, mask), guidance)

                def counted(x, t, _fn=model_fn):
                    bar.update(1)
                    return _fn(x, t)

                x = sample(counted, (len(batch), frames, n_mels), sampler=sampler, steps=steps,
                           generator=generator, device=device)  # (b, T, n_mels) in [-1, 1]
                x = fill_dropouts(x.float().clamp(-1.0, 1.0), *dropout_levels)
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


def _num_samples(total_time: float, num_segments: int, tail_seconds: float, rate: int) -> int:
    full = num_segments * FRAMES_PER_SEGMENT * (rate // 50)
    return max(1, min(full, math.ceil((total_time + tail_seconds) * rate)))


def _trim(pieces: Iterator[torch.Tensor], limit: int) -> Iterator[np.ndarray]:
    done = 0
    for piece in pieces:
        if done >= limit:
            continue  # only the last segment is trimmed; keep draining so the mel saver finishes
        keep = piece[: limit - done].cpu().numpy()
        done += keep.shape[0]
        yield keep


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
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


class _MelSaver:
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


def _prepare(midi, model, vocoder, device, name_hint: str, program: int | None = None,
             program_map: dict[int, int] | None = None):
    from specdiff.codec import tokenize_notes
    from specdiff.instruments import orchestrate
    from specdiff.vocoders import load_vocoder

    notes = orchestrate(load_notes(midi), program, program_map)
    model = load_model(model, device)
    if model.config.codec == "port-901":  # the port: its own codec, raw programs
        segments = tokenize_notes(notes, model.config.token_codec, program_map=False,
                                  name=name_hint)
    else:
        segments = tokenize_notes(notes, name=name_hint)
    if not segments:
        raise SpecdiffError(f"{name_hint}: no notes to synthesize")
    if vocoder is None:
        vocoder = getattr(model, "vocoder_path", None) or "griffin-lim"
    vocoder = load_vocoder(vocoder, device=model.device)
    return notes, model, segments, vocoder


def _audio_stream(notes, model, segments, vocoder, options: dict, tail_seconds: float,
                  mel_hook: Callable | None = None) -> tuple[int, Iterator[np.ndarray]]:
    from specdiff.vocoders.stream import vocode_stream

    limit = _num_samples(notes.total_time, len(segments), tail_seconds, vocoder.sample_rate)
    mels = generate_mels(model, segments, **options)
    if mel_hook is not None:
        mels = mel_hook(mels)
    return limit, _trim(vocode_stream(vocoder, mels), limit)


def synthesize(
    midi,
    model=None,
    *,
    vocoder=None,
    sampler: str = DEFAULT_SAMPLER,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
    tail_seconds: float = TAIL_SECONDS,
    program: int | None = None,
    program_map: dict[int, int] | None = None,
) -> tuple[np.ndarray, int]:
    """Synthesize a whole MIDI file in memory.

    Args:
        midi: a MIDI file path or a ``specdiff.codec.NoteSequence``.
        model: a ``SpectrogramDiffusion``, a checkpoint path or hub id (default: built-in).
        vocoder: a ``Vocoder`` or anything ``load_vocoder`` takes (default: the model folder's
            ``melgan/model.onnx`` if it has one, else Griffin-Lim).
        sampler, steps, guidance, seed, batch_size, progress: see ``generate_mels``;
            ``guidance=None`` takes the model's ``default_guidance``.
        device: where the model runs (default: where it is).
        tail_seconds: audio kept after the last note's end, within the generated segments.
        program, program_map: re-orchestrate first (``specdiff.instruments.orchestrate``):
            ``program_map`` maps instrument keys (GM program, 128 = drums) to others, then
            ``program`` (if given) replaces every pitched note's instrument.

    Returns:
        (audio (n,) float32 at the vocoder's rate, sample rate). n = min(segments * 81 920,
        ceil((end of the MIDI + tail_seconds) * 16 000)).
    """
    name = os.fspath(midi) if isinstance(midi, (str, os.PathLike)) else "notes"
    notes, model, segments, vocoder = _prepare(midi, model, vocoder, device, name, program,
                                               program_map)
    options = _sampling_options(model, sampler, steps, guidance, seed, batch_size,
                                 progress)
    _, pieces = _audio_stream(notes, model, segments, vocoder, options, tail_seconds)
    return np.concatenate(list(pieces)).astype(np.float32, copy=False), vocoder.sample_rate


def synthesize_to_file(
    midi,
    output: str | os.PathLike,
    model=None,
    *,
    save_mel: str | os.PathLike | None = None,
    vocoder=None,
    sampler: str = DEFAULT_SAMPLER,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: bool | None = None,
    tail_seconds: float = TAIL_SECONDS,
    program: int | None = None,
    program_map: dict[int, int] | None = None,
) -> SynthesisResult:
    """Synthesize a MIDI file straight to an audio file (and optionally its mel), streaming.

    Audio (WAV or FLAC, from the extension) and the ``.npy`` mel are written as segments finish,
    to temporary files renamed onto their names only at the end: an interrupted run
    (KeyboardInterrupt, SIGTERM, an error) leaves no file under either name. Memory stays flat
    with the length of the piece. Arguments as for ``synthesize``.

    Raises:
        SpecdiffError: bad MIDI, model, vocoder, or an unwritable/unknown output path.
    """
    output = Path(output)
    name = os.fspath(midi) if isinstance(midi, (str, os.PathLike)) else "notes"
    with contextlib.ExitStack() as stack:
        # Check the outputs before any expensive work.
        writer = stack.enter_context(AudioFileWriter(output, sample_rate=SAMPLE_RATE))
        notes, model, segments, vocoder = _prepare(midi, model, vocoder, device, name, program,
                                                   program_map)
        if vocoder.sample_rate != SAMPLE_RATE:
            raise SpecdiffError(f"{output}: the vocoder's rate {vocoder.sample_rate} Hz is not "
                                f"{SAMPLE_RATE} Hz")
        saver = None
        if save_mel is not None:
            saver = _MelSaver(Path(save_mel), len(segments) * model.config.target_length,
                              model.config.n_mels, stack)
        options = _sampling_options(model, sampler, steps, guidance, seed, batch_size,
                                     progress)
        stack.enter_context(_sigterm_interrupts())
        _, pieces = _audio_stream(notes, model, segments, vocoder, options, tail_seconds, saver)
        for piece in pieces:
            writer.write(piece)
        num_samples = writer.frames_written
    return SynthesisResult(output, num_samples, SAMPLE_RATE, len(segments),
                           Path(save_mel) if save_mel is not None else None)
