"""Does a model fall silent where the music stops?

A model can follow its notes and still fill the silence after them with sound: its training
windows rarely hold silence, and at high noise the sampler asks it what a frame sounds like
before the frame says anything. This probe plays a chord and a melody for 2.5 s, then nothing
until the end of the 5.12 s segment, and compares the RMS of the audio over the notes with the
RMS after them. ``tests/pipeline/test_builtin_model.py`` asks the built-in model for a ratio
under 0.1 at every seed; ``scripts/silence_report.py`` prints it for any checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specdiff.codec import Note, NoteSequence

SOUNDING = (0.1, 2.4)
"""Seconds of the probe over which its notes sound."""
SILENT = (3.8, 5.1)
"""Seconds of the probe where nothing has played for 1.3 s or more (the notes end at 2.5 s)."""
PROBE_SECONDS = 5.12
"""The probe's length: one segment."""


def probe_notes() -> NoteSequence:
    """A piano melody (nine notes a whole tone apart, 0.25 s apart, 0.5 s each) over a string
    chord (C3 G3 E4) for 0-2.5 s, then nothing; ``total_time`` is one segment."""
    melody = [Note(0.25 * k, 0.25 * k + 0.5, 60 + 2 * k, 100, 0, False) for k in range(9)]
    chord = [Note(0.0, 2.5, pitch, 90, 48, False) for pitch in (48, 55, 64)]
    return NoteSequence(notes=melody + chord, total_time=2.5)


@dataclass(frozen=True)
class SilenceProbe:
    """One sample of the probe: its seed and the RMS over the notes and after them."""

    seed: int
    sounding: float
    silent: float

    @property
    def ratio(self) -> float:
        """Silent RMS over sounding RMS (0 = perfect silence; about 1 = no drop at all)."""
        return self.silent / max(self.sounding, 1e-12)


def rms(audio: np.ndarray, rate: int, span: tuple[float, float]) -> float:
    """RMS of ``audio`` between ``span`` seconds."""
    part = audio[int(span[0] * rate) : int(span[1] * rate)]
    return float(np.sqrt(np.mean(np.square(part, dtype=np.float64)))) if len(part) else 0.0


def silence_probe(model, seeds=(0, 1, 2), steps: int = 10, **options) -> list[SilenceProbe]:
    """Synthesize the probe once per seed and measure it.

    Args:
        model: anything ``specdiff.synthesize`` takes (default: the built-in model).
        seeds: one sample per seed (one lucky seed is not silence).
        steps: sampler steps.
        **options: more ``synthesize`` options (``guidance``, ``vocoder``, ``sampler``...).

    Returns:
        one ``SilenceProbe`` per seed; the audio is a whole segment (5.12 s).
    """
    from specdiff.synthesizer import synthesize

    notes = probe_notes()
    results = []
    for seed in seeds:
        audio, rate = synthesize(notes, model, steps=steps, seed=seed, progress=False,
                                 tail_seconds=PROBE_SECONDS - notes.total_time, **options)
        if not np.isfinite(audio).all():
            raise ValueError(f"seed {seed}: the synthesized audio is not finite")
        results.append(SilenceProbe(seed, rms(audio, rate, SOUNDING), rms(audio, rate, SILENT)))
    return results
