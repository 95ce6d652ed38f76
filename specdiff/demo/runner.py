"""The studio's one door into synthesis: load the model once, render a piece to audio and mel.

Everything the web app needs from the synthesizer (``specdiff.synthesizer``) and the samplers goes
through this file, so a change of their signatures touches this file only.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """Sampler settings chosen in the page (``None`` leaves the bundle's default; ``quality`` a
    preset, `specdiff.bundle.with_quality`, under the explicit fields).

    ``vocoder`` is anything the pipeline takes: a name ("griffin-lim"), an ONNX file or a
    ``specdiff.vocoders.Vocoder``.
    """

    sampler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    quality: str = "default"
    vocoder: Any = None
    device: str | None = None


@dataclasses.dataclass(frozen=True)
class Rendering:
    """One synthesis result.

    Attributes:
        wav: the rendered audio as a 16-bit WAV file.
        audio: (n,) float32 samples in [-1, 1], as in ``wav``.
        sample_rate: Hz.
        mel: (ceil(n / 320), 128) the generated natural-log mel (unscaled), 50 frames/s.
    """

    wav: Path
    audio: np.ndarray
    sample_rate: int
    mel: np.ndarray


def sampler_defaults(model: Any) -> dict[str, int]:
    """Sampler name -> its default number of steps, the bundle's own sampler first (with its
    steps)."""
    from specdiff.diffusion import DEFAULT_STEPS, SAMPLERS

    first = model.settings.sampling.name
    steps = {name: int(DEFAULT_STEPS[name]) for name in SAMPLERS}
    steps[first] = model.settings.sampling.num_steps
    return {first: steps[first], **{n: steps[n] for n in SAMPLERS if n != first}}


def default_guidance(model: Any) -> float:
    """The classifier-free guidance weight of the bundle ``model``."""
    return float(model.settings.sampling.guidance)


def load_model(source: str | os.PathLike | None, device: str | None = None) -> Any:
    """Load a bundle once at start-up (``None``: the built-in model): a `Synthesizer`.

    Args:
        source: a specdiff bundle, a diffusers-layout folder, or a hub id.
        device: torch device for the model (``None``: the loader's default).

    Raises:
        SpecdiffError: no model given and none built in; a missing or foreign checkpoint.
    """
    from specdiff.synthesizer import Synthesizer

    return Synthesizer.from_pretrained(None if source is None else os.fspath(source),
                                       device=device)


def synthesize_notes(
    sequence: Any, model: Any, settings: RenderSettings, wav: str | os.PathLike
) -> Rendering:
    """Synthesize a piece into the WAV file ``wav``, keeping the generated mel beside it.

    Args:
        sequence: the ``specdiff.codec.NoteSequence`` to render (instruments already re-assigned).
        model: a loaded `Synthesizer` (see ``load_model``).
        settings: sampler settings.
        wav: the output WAV path (its folder must exist); the mel goes to ``wav`` + ``.mel.npy``.

    Returns:
        The audio, its sample rate and the generated spectrogram (see ``Rendering``).
    """
    import soundfile

    from specdiff.audio import HOP_LENGTH
    from specdiff.bundle import with_quality
    from specdiff.synthesizer import synthesize_to_file

    wav = Path(wav)
    options: dict[str, Any] = {"seed": int(settings.seed), "progress": True}
    if settings.quality != "default" and hasattr(model, "settings"):  # its guidance interval
        options["settings"] = with_quality(model.settings, settings.quality)
    for name in ("sampler", "steps", "guidance", "vocoder", "device"):
        if getattr(settings, name) is not None:
            options[name] = getattr(settings, name)
    # progress=True: tqdm bars, which the page mirrors (gradio's track_tqdm) and the log shows.
    result = synthesize_to_file(sequence, wav, model, save_mel=wav.with_suffix(".mel.npy"),
                                **options)
    audio, sample_rate = soundfile.read(result.path, dtype="float32", always_2d=False)
    frames = math.ceil(len(audio) / HOP_LENGTH)
    mel = np.load(result.mel_path)[:frames]  # (T, 128): segments past the audio's end dropped
    return Rendering(wav=result.path, audio=audio, sample_rate=int(sample_rate), mel=mel)
