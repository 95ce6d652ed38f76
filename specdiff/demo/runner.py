"""The studio's one door into synthesis: load the model once, render notes to audio and mel.

Everything the web app needs from ``specdiff.synthesize`` goes through ``synthesize_notes``, so a
change of the pipeline's signature touches this file only.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from specdiff.errors import SpecdiffError


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """Sampler settings chosen in the page (``None`` leaves the pipeline's default)."""

    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    sampler: str | None = None
    vocoder: str | None = None
    device: str | None = None


@dataclasses.dataclass(frozen=True)
class Rendering:
    """One synthesis result.

    Attributes:
        audio: (n,) float32 samples in about [-1, 1].
        sample_rate: Hz.
        mel: (T, 128) natural-log mel spectrogram at 50 frames/s: the generated one when the
            pipeline reports it, else the official front end applied to ``audio``.
    """

    audio: np.ndarray
    sample_rate: int
    mel: np.ndarray


def _synthesize() -> Callable[..., Any]:
    try:
        from specdiff.pipeline import synthesize
    except ImportError as error:
        raise SpecdiffError(f"synthesis is not available in this installation ({error})") from None
    return synthesize


def pipeline_defaults() -> dict[str, Any]:
    """Default keyword values of ``specdiff.synthesize`` (steps, guidance, ...), as far as known."""
    try:
        parameters = inspect.signature(_synthesize()).parameters
    except SpecdiffError:
        return {}
    return {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def load_model(source: str | os.PathLike | None, device: str | None = None) -> Any:
    """Load a checkpoint once at start-up; ``None`` leaves the choice to the pipeline's default.

    Args:
        source: a specdiff checkpoint directory or file, or a hub id.
        device: torch device for the model (``None``: the loader's default).

    Raises:
        SpecdiffError: the checkpoint is missing or not a spectrogram-diffusion model.
    """
    if source is None:
        return None
    from specdiff.models import SpectrogramDiffusion

    kwargs = {"device": device} if device else {}
    model = SpectrogramDiffusion.from_pretrained(str(source), **kwargs)
    model.eval()
    return model


def synthesize_notes(sequence: Any, model: Any, settings: RenderSettings) -> Rendering:
    """Synthesize a piece with the pipeline.

    Args:
        sequence: the ``NoteSequence`` to render (instruments already re-assigned).
        model: a loaded model, or ``None`` for the pipeline's default model.
        settings: sampler settings.

    Returns:
        The audio, its sample rate and the log-mel spectrogram (see ``Rendering``).
    """
    synthesize = _synthesize()
    accepted = inspect.signature(synthesize).parameters
    kwargs: dict[str, Any] = {"seed": int(settings.seed)}
    if model is not None:
        kwargs["model"] = model
    for name in ("steps", "guidance", "sampler", "vocoder", "device"):
        value = getattr(settings, name)
        if value is not None:
            if name not in accepted:
                raise SpecdiffError(f"this version of the pipeline has no {name!r} setting")
            kwargs[name] = value
    with tempfile.TemporaryDirectory(prefix="specdiff-demo-mel-") as tmp:
        mel_path = Path(tmp) / "mel.npy"
        if "save_mel" in accepted:
            kwargs["save_mel"] = mel_path
        audio, sample_rate = synthesize(sequence, **kwargs)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        mel = np.load(mel_path) if mel_path.exists() else None
    if mel is None or mel.ndim != 2:
        from specdiff.demo.figure import audio_log_mel

        mel = audio_log_mel(audio, int(sample_rate))
    return Rendering(audio=audio, sample_rate=int(sample_rate), mel=mel.astype(np.float32))
