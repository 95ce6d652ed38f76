"""A model bundle ready to play: network + vocoder + synthesis settings, and whole-file synthesis.

``Synthesizer.from_pretrained(source)`` reads any supported checkpoint as a bundle
(`specdiff.checkpoints`) and makes the vocoder its settings name; ``synthesize`` and
``synthesize_to_file`` use the bundle's settings unless a call overrides one. The CLI, the studio,
evaluation and the benchmarks all go through it, so a bundle sounds the same whichever way it is
loaded. The module-level `synthesize` and `synthesize_to_file` are the one-call versions.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from specdiff.audio import SAMPLE_RATE, AudioFileWriter, WavStreamWriter, resample_stream
from specdiff.audio.io import soft_clip
from specdiff.bundle import INPAINTING, NAMED_VOCODERS, SynthesisSettings, with_quality
from specdiff.checkpoints import DIFFUSION, Checkpoint, read_checkpoint, write_specdiff
from specdiff.errors import SpecdiffError
from specdiff.models.builder import build_model
from specdiff.models.precision import apply_precision, resolve_precision
from specdiff.pipeline import (
    TAIL_SECONDS,
    MelSaver,
    Passage,
    audio_length,
    generate_mels,
    generate_windows,
    load_notes,
    sigterm_interrupts,
    trim_stream,
    window_starts,
)
from specdiff.vocoders import Vocoder, load_vocoder

BUILTIN_MODEL = Path(__file__).with_name("assets") / "default_model.safetensors"
"""The bundle used when none is given: a small model trained on a FluidR3-rendered corpus
(docs/builtin_model.md), with specdiff's neural vocoder and its own settings."""

AUDIO_STAGES = {"soft_clip": soft_clip}


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


def _resolve_vocoder(settings: SynthesisSettings, folder: Path | None) -> str | Path:
    """What ``load_vocoder`` takes for ``settings.vocoder`` (a name, or a file of the bundle)."""
    name = settings.vocoder
    if name in NAMED_VOCODERS:
        return name
    if folder is None or not (folder / name).is_file():
        raise SpecdiffError(f"the bundle names the vocoder file {name!r}, which is not in "
                            f"{folder if folder is not None else 'its folder'}")
    return folder / name


class Synthesizer(nn.Module):
    """A model bundle: network, vocoder and the settings it synthesizes with.

    Args:
        model: a ``SpectrogramDiffusion`` or ``AutoregressiveModel``; it is put in eval mode and
            cast in place to the settings' precision.
        settings: the bundle's `SynthesisSettings` (default: the official path, Griffin-Lim).
        vocoder: a ready ``Vocoder``; None makes the one ``settings.vocoder`` names.
        folder: where a vocoder file named by the settings lives.
        provenance: facts about the bundle's origin.
    """

    def __init__(self, model: nn.Module, settings: SynthesisSettings | None = None,
                 vocoder: Vocoder | str | os.PathLike | None = None, folder: Path | None = None,
                 provenance: dict[str, str] | None = None):
        super().__init__()
        self.settings = settings or SynthesisSettings()
        self.precision = resolve_precision(self.settings.precision, model.device)
        self.model = apply_precision(model.eval(), self.precision)
        if vocoder is None:
            vocoder = _resolve_vocoder(self.settings, folder)
        self.vocoder = load_vocoder(vocoder, device=self.device)
        self.provenance = dict(provenance or {})

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, source: str | os.PathLike | None = None, *,
                        device: str | torch.device | None = None, local_files_only: bool = False,
                        port_config: Any = None, vocoder: Vocoder | str | None = None,
                        precision: str | None = None, quality: str = "default"
                        ) -> Synthesizer:
        """Load a bundle: our ``.safetensors`` file or bundle folder, a diffusers-layout folder,
        a hub id or the port's ``.ckpt`` (with ``port_config``, see
        `specdiff.checkpoints.read_checkpoint`); None is the built-in model.

        Args:
            vocoder: replace the bundle's vocoder (a ``Vocoder`` or what ``load_vocoder`` takes).
            precision: replace the bundle's precision (``auto``, ``fp32``, ``bf16``, ``fp16``,
                ``int8``).
            quality: ``draft``, ``default`` (the bundle's settings) or ``best``
                (`specdiff.bundle.with_quality`), applied before ``precision``.

        Raises:
            SpecdiffError: a bad checkpoint, or the built-in one missing from the install.
        """
        if source is None:
            if not BUILTIN_MODEL.is_file():
                raise SpecdiffError(
                    f"no model given and the built-in model {BUILTIN_MODEL} is missing (a partial "
                    "install?); pass a checkpoint (a specdiff .safetensors file, a "
                    "diffusers-layout folder or a hub id)")
            source = BUILTIN_MODEL
        checkpoint = read_checkpoint(source, local_files_only=local_files_only,
                                     port_config=port_config)
        settings = with_quality(checkpoint.settings, quality)
        checkpoint.settings = settings.override(precision=precision)
        return cls.from_checkpoint(checkpoint, device=device, vocoder=vocoder)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, *, device: str | torch.device | None = None,
                        vocoder: Vocoder | str | None = None) -> Synthesizer:
        """The bundle a `Checkpoint` describes (see `from_pretrained`)."""
        model = build_model(checkpoint)
        if device is not None:
            model = model.to(device)
        return cls(model, checkpoint.settings, vocoder, checkpoint.folder, checkpoint.provenance)

    @property
    def kind(self) -> str:
        return DIFFUSION if hasattr(self.model, "eps_fn") else "autoregressive"

    def checkpoint(self) -> Checkpoint:
        """This bundle as a `Checkpoint` (float32 weights unless the model is reduced)."""
        if self.precision == "int8":
            raise SpecdiffError("an int8-quantized synthesizer has no plain weights to save; "
                                "save the bundle with precision='int8' in its settings instead")
        return Checkpoint(self.kind, self.model.config, self.model.state_dict(), self.settings,
                          None, "synthesizer", self.provenance)

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the bundle as one ``.safetensors`` file; its vocoder must be a name, not a
        file (write a bundle folder with ``specdiff convert`` for that)."""
        if self.settings.vocoder not in NAMED_VOCODERS:
            raise SpecdiffError(f"{path}: the vocoder {self.settings.vocoder!r} is a file; a "
                                "single-file bundle can only name griffin-lim or specdiff (use "
                                "`specdiff convert` to write a bundle folder)")
        return write_specdiff(self.checkpoint(), path)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def to(self, *args, **kwargs) -> Synthesizer:
        super().to(*args, **kwargs)
        self.vocoder = self.vocoder.to(self.device)
        return self

    # ------------------------------------------------------------------ synthesis
    def resolve(self, settings: SynthesisSettings | None = None, **overrides: Any
                ) -> SynthesisSettings:
        """The settings of one call: ``settings`` (default: the bundle's) with the given non-None
        fields replaced. Precision is the synthesizer's own (it is applied at construction)."""
        base = self.settings if settings is None else settings
        return base.override(**overrides)

    def mels(self, segments, settings: SynthesisSettings, *, notes=None, seed: int = 0,
             batch_size: int = 8, progress: bool | None = None, segment_seeds=None,
             passage: Passage | None = None):
        """Generate the piece's log-mel in order: (n, 128) pieces, 256 frames per segment in all.

        ``segments`` are the token ids of `prepare`. The inpainting continuations and
        ``passage`` (re-generate a range of a previous rendering, keeping every other frame)
        cut their own windows from ``notes``. ``segment_seeds``: see `generate_mels`.
        """
        frames = len(segments) * self.model.config.target_length
        inpainting = settings.continuation in INPAINTING
        if passage is None and not inpainting:
            return generate_mels(self.model, segments, settings.sampling, seed=seed,
                                 batch_size=batch_size, progress=progress,
                                 mel_stages=settings.mel_stages,
                                 continuation=settings.continuation,
                                 segment_seeds=segment_seeds)
        if notes is None or not hasattr(self.model, "eps_fn"):
            raise SpecdiffError("inpainting needs a diffusion model and the piece's notes")
        known = None
        if passage is None:
            starts = window_starts(frames, settings.overlap)
        else:
            first, last = passage.frames(frames, self.model.config.n_mels)
            starts = window_starts(frames, settings.overlap, max(0, first - settings.overlap),
                                   last)
            keep = np.ones(frames, dtype=bool)
            keep[first:last] = False
            known = (passage.mel, keep)
        windows = [self._window(notes, start) for start in starts]
        use_context = settings.continuation in ("context", "context+inpaint")
        return generate_windows(self.model, windows, starts, frames, settings.sampling,
                                known=known, fade=settings.overlap, use_context=use_context,
                                seed=seed,
                                progress=progress, mel_stages=settings.mel_stages)

    def _window(self, notes, start: int) -> np.ndarray:
        """Token ids of the segment-long window of ``notes`` from frame ``start``."""
        from specdiff.codec import tokenize_window

        config = self.model.config
        return tokenize_window(notes, start, config.target_length, config.token_codec,
                               program_map=config.codec != "port-901")

    def segments_alone(self, settings: SynthesisSettings) -> bool:
        """Whether segments are generated independently of each other with ``settings`` (a
        model without context, or ``continuation="none"``): they may be batched across pieces."""
        config = self.model.config
        independent = settings.continuation == "none" or (
            not config.has_context and settings.continuation == "context")
        return independent and config.mask_padding and hasattr(self.model, "eps_fn")

    def prepare(self, midi, program: int | None = None,
                program_map: dict[int, int] | None = None,
                excerpt: tuple[float, float | None] | None = None,
                part_map: dict[int, int] | None = None):
        """(notes after re-orchestration, token segments); ``midi`` a path or a NoteSequence.

        ``excerpt`` (start, end) seconds: only that part of the piece (`NoteSequence.excerpt`).
        ``part_map``, ``program_map``, ``program``: re-orchestration (`orchestrate`).

        Raises:
            SpecdiffError: bad MIDI, a bad excerpt, or no notes.
        """
        from specdiff.codec import tokenize_notes
        from specdiff.instruments import orchestrate

        name = os.fspath(midi) if isinstance(midi, (str, os.PathLike)) else "notes"
        notes = load_notes(midi)
        if excerpt is not None:
            start, end = excerpt
            if start < 0 or (end is not None and end <= start):
                raise SpecdiffError(f"excerpt {start:g} to {end} s: expected 0 <= START < END")
            if start >= notes.total_time:
                raise SpecdiffError(f"{name}: the excerpt starts at {start:g} s, after the "
                                    f"piece's end ({notes.total_time:.2f} s)")
            notes = notes.excerpt(start, end)
        notes = orchestrate(notes, program, program_map, part_map)
        if self.model.config.codec == "port-901":  # the port: its own codec, raw programs
            segments = tokenize_notes(notes, self.model.config.token_codec, program_map=False,
                                      name=name)
        else:
            segments = tokenize_notes(notes, name=name)
        if not segments:
            raise SpecdiffError(f"{name}: no notes to synthesize")
        return notes, segments

    def audio_from_mels(self, notes, num_segments: int, mels, settings: SynthesisSettings,
                        tail_seconds: float = TAIL_SECONDS):
        """Vocode a stream of ``num_segments`` segment mels into audio pieces ((n,) each), trimmed
        to the piece's end plus ``tail_seconds``, with the settings' audio stages."""
        from specdiff.vocoders.stream import vocode_stream

        limit = audio_length(notes.total_time, num_segments, tail_seconds,
                             self.vocoder.sample_rate)
        for piece in trim_stream(vocode_stream(self.vocoder, mels), limit):
            for stage in settings.audio_stages:
                piece = AUDIO_STAGES[stage](piece)
            yield piece

    def synthesize(self, midi, *, settings: SynthesisSettings | None = None,
                   sampler: str | None = None, steps: int | None = None,
                   guidance: float | None = None, seed: int = 0, batch_size: int = 8,
                   progress: bool | None = None, tail_seconds: float = TAIL_SECONDS,
                   program: int | None = None, program_map: dict[int, int] | None = None,
                   passage: Passage | None = None, sample_rate: int | None = None,
                   excerpt: tuple[float, float | None] | None = None,
                   part_map: dict[int, int] | None = None) -> tuple[np.ndarray, int]:
        """Synthesize a whole MIDI file in memory.

        Args:
            midi: a MIDI file path or a ``specdiff.codec.NoteSequence``.
            settings: replace the bundle's synthesis settings for this call (its precision
                aside, which is the synthesizer's).
            sampler, steps, guidance: override single settings (None keeps them).
            seed: seeds the one generator that draws all noise.
            batch_size: segments generated together by a model without context.
            progress: a progress bar on stderr; None = only when stderr is a terminal.
            tail_seconds: audio kept after the last note's end, within the generated segments.
            program, program_map, part_map: re-orchestrate first
                (``specdiff.instruments.orchestrate``; parts by number, `list_parts`).
            passage: make only this range of a previous rendering again (`Passage`); every
                other mel frame stays as it was.
            sample_rate: resample the audio to this rate (soxr, high quality), e.g. 44 100 or
                48 000 for a DAW (default: the vocoder's 16 000).
            excerpt: (start, end) seconds of the piece to synthesize (end None: to its end).

        Returns:
            (audio (n,) float32, sample rate). At 16 kHz n = min(segments * 81 920,
            ceil((end of the MIDI + tail_seconds) * 16 000)).
        """
        notes, segments = self.prepare(midi, program, program_map, excerpt, part_map)
        settings = self.resolve(settings, sampler=sampler, steps=steps, guidance=guidance)
        mels = self.mels(segments, settings, notes=notes, seed=seed, batch_size=batch_size,
                         progress=progress, passage=passage)
        pieces = self.audio_from_mels(notes, len(segments), mels, settings, tail_seconds)
        rate = sample_rate or self.vocoder.sample_rate
        pieces = resample_stream(pieces, self.vocoder.sample_rate, rate)
        audio = np.concatenate(list(pieces)).astype(np.float32, copy=False)
        return audio, rate

    def synthesize_to_file(self, midi, output: str | os.PathLike, *,
                           save_mel: str | os.PathLike | None = None,
                           settings: SynthesisSettings | None = None, sampler: str | None = None,
                           steps: int | None = None, guidance: float | None = None, seed: int = 0,
                           batch_size: int = 8, progress: bool | None = None,
                           tail_seconds: float = TAIL_SECONDS, program: int | None = None,
                           program_map: dict[int, int] | None = None,
                           passage: Passage | None = None,
                           sample_rate: int | None = None,
                           excerpt: tuple[float, float | None] | None = None,
                           part_map: dict[int, int] | None = None) -> SynthesisResult:
        """Synthesize a MIDI file straight to an audio file (and optionally its mel), streaming.

        Audio (WAV, FLAC, MP3 or Ogg Vorbis, from the extension; at ``sample_rate``, default
        16 kHz) and the ``.npy`` mel are written as segments
        finish, to temporary files renamed onto their names only at the end: an interrupted run
        (KeyboardInterrupt, SIGTERM, an error) leaves no file under either name. ``output="-"``
        streams a 16-bit WAV to stdout instead, each segment as soon as it is vocoded (``| aplay``
        plays while the rest is generated); a binary stream (a player's stdin) gets the same.
        Memory stays flat with the length of the piece.
        Arguments as for `synthesize`.

        Raises:
            SpecdiffError: bad MIDI, or an unwritable/unknown output path.
        """
        if self.vocoder.sample_rate != SAMPLE_RATE:
            raise SpecdiffError(f"{output}: the vocoder's rate {self.vocoder.sample_rate} Hz is "
                                f"not {SAMPLE_RATE} Hz")
        rate = sample_rate or SAMPLE_RATE
        if not 8000 <= rate <= 192_000:
            raise SpecdiffError(f"sample rate {rate} Hz: expected 8000 to 192000")
        with contextlib.ExitStack() as stack:
            # Check the outputs before any expensive work.
            if output == "-" or hasattr(output, "write"):
                writer = WavStreamWriter(sys.stdout.buffer if output == "-" else output, rate)
                output = "-"
            else:
                output = Path(output)
                writer = stack.enter_context(AudioFileWriter(output, sample_rate=rate))
            notes, segments = self.prepare(midi, program, program_map, excerpt, part_map)
            saver = None
            if save_mel is not None:
                saver = MelSaver(Path(save_mel), len(segments) * self.model.config.target_length,
                                 self.model.config.n_mels, stack)
            settings = self.resolve(settings, sampler=sampler, steps=steps, guidance=guidance)
            stack.enter_context(sigterm_interrupts())
            mels = self.mels(segments, settings, notes=notes, seed=seed,
                             batch_size=batch_size, progress=progress, passage=passage)
            if saver is not None:
                mels = saver(mels)
            pieces = self.audio_from_mels(notes, len(segments), mels, settings, tail_seconds)
            for piece in resample_stream(pieces, SAMPLE_RATE, rate):
                writer.write(piece)
            num_samples = writer.frames_written
        return SynthesisResult(Path(output), num_samples, rate, len(segments),
                               Path(save_mel) if save_mel is not None else None)


def load_synthesizer(model=None, *, device: str | torch.device | None = None,
                     port_config: Any = None, vocoder: Vocoder | str | None = None
                     ) -> Synthesizer:
    """A `Synthesizer` for ``model``: a `Synthesizer` (used as is, ``vocoder`` replacing its
    own), a bare network (the default settings: the official path), a checkpoint path or hub id
    (its bundle), or None (the built-in model)."""
    if isinstance(model, Synthesizer):
        if vocoder is not None:
            model = Synthesizer(model.model, model.settings, vocoder, provenance=model.provenance)
        return model.to(device) if device is not None else model
    if isinstance(model, nn.Module):
        if device is not None:
            model = model.to(device)
        return Synthesizer(model, vocoder=vocoder)
    return Synthesizer.from_pretrained(model, device=device, port_config=port_config,
                                       vocoder=vocoder)


def synthesize(midi, model=None, *, vocoder: Vocoder | str | None = None,
               device: str | torch.device | None = None, **options: Any
               ) -> tuple[np.ndarray, int]:
    """One call: `load_synthesizer` (``model``: a bundle path or hub id, a `Synthesizer`, a
    network, or None for the built-in model), then `Synthesizer.synthesize` with ``options``."""
    return load_synthesizer(model, device=device, vocoder=vocoder).synthesize(midi, **options)


def synthesize_to_file(midi, output: str | os.PathLike, model=None, *,
                       vocoder: Vocoder | str | None = None,
                       device: str | torch.device | None = None, **options: Any
                       ) -> SynthesisResult:
    """One call: `load_synthesizer`, then `Synthesizer.synthesize_to_file` with ``options``."""
    return load_synthesizer(model, device=device, vocoder=vocoder).synthesize_to_file(
        midi, output, **options)
