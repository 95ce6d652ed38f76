"""What a model bundle says about synthesis: vocoder, sampling, precision, stages.

A bundle is one specdiff ``.safetensors`` file (or a folder holding one, next to the vocoder file
it names): the network's weights, its `ModelConfig` and these `SynthesisSettings` in the file's
metadata. Everything that makes a model sound the way its maker intended travels here, so a
bundle loaded by any route synthesizes the same bytes. Official (diffusers layout) and port
checkpoints read as bundles with `SynthesisSettings()` (the official path: no post-processing).
Data only: no model classes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from specdiff.diffusion.config import SamplerConfig
from specdiff.errors import SpecdiffError

MEL_STAGES = ("fill_dropouts",)
"""Post-processing of each generated segment's mel, before it becomes the next one's context
(`specdiff.pipeline.fill_dropouts`)."""
AUDIO_STAGES = ("soft_clip",)
"""Post-processing of the audio (`specdiff.audio.soft_clip`)."""
CONTINUATIONS = ("context", "none", "inpaint", "context+inpaint")
"""How a segment follows the one before: through the context encoder (models that have one),
not at all (each segment generated alone), by inpainting (windows overlapping the previous one
by ``overlap`` frames, which are held fixed while the rest is generated to fit them), or both."""
INPAINTING = ("inpaint", "context+inpaint")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
NAMED_VOCODERS = ("griffin-lim", "specdiff")
"""Vocoders a bundle names rather than carries as a file."""


@dataclass(frozen=True)
class SynthesisSettings:
    """How a model synthesizes unless told otherwise.

    Attributes:
        vocoder: ``"griffin-lim"``, ``"specdiff"`` (the neural vocoder shipped in the package),
            or a file relative to the bundle's folder (a SoundStream ``.onnx`` such as a
            diffusers layout's ``melgan/model.onnx``, or a specdiff vocoder ``.safetensors``).
        sampling: sampler, steps, guidance and guidance interval of each segment.
        precision: the network's arithmetic (``fp32``, ``bf16``, ``fp16``, ``int8``: dynamic
            int8 linear layers on a CPU; ``auto``: see `specdiff.models.precision`).
        mel_stages: names from `MEL_STAGES`, applied in order to each generated segment.
        audio_stages: names from `AUDIO_STAGES`, applied to the audio.
        continuation: one of `CONTINUATIONS`.
        overlap: frames (20 ms each) a window shares with the one before when inpainting
            (the ``inpaint`` continuations and passage re-generation).
    """

    vocoder: str = "griffin-lim"
    sampling: SamplerConfig = SamplerConfig()
    precision: str = "fp32"
    mel_stages: tuple[str, ...] = ()
    audio_stages: tuple[str, ...] = ()
    continuation: str = "context"
    overlap: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "mel_stages", tuple(self.mel_stages))
        object.__setattr__(self, "audio_stages", tuple(self.audio_stages))
        for name, stages, known in (("mel_stages", self.mel_stages, MEL_STAGES),
                                    ("audio_stages", self.audio_stages, AUDIO_STAGES)):
            unknown = [s for s in stages if s not in known]
            if unknown:
                raise SpecdiffError(f"synthesis settings: unknown {name} {unknown}; expected "
                                    f"some of {list(known)}")
        if self.continuation not in CONTINUATIONS:
            raise SpecdiffError(f"synthesis settings: continuation {self.continuation!r}; "
                                f"expected one of {list(CONTINUATIONS)}")
        if not 0 < self.overlap < 256:
            raise SpecdiffError(f"synthesis settings: overlap {self.overlap}; expected 1 to 255 "
                                "frames")
        if self.precision not in PRECISIONS:
            raise SpecdiffError(f"synthesis settings: precision {self.precision!r}; expected "
                                f"one of {list(PRECISIONS)}")

    def override(self, *, sampler: str | None = None, steps: int | None = None,
                 guidance: float | None = None,
                 guidance_interval: tuple[float, float] | None = None,
                 **changes: Any) -> SynthesisSettings:
        """A copy with the given fields changed; None leaves a field as it is. ``sampler``,
        ``steps``, ``guidance`` and ``guidance_interval`` change `sampling` (its ``name``,
        ...); a new sampler without ``steps`` takes that sampler's default number of steps."""
        sampling = {"name": sampler, "steps": steps, "guidance": guidance,
                    "guidance_interval": guidance_interval}
        sampling = {k: v for k, v in sampling.items() if v is not None}
        if sampling.get("name", self.sampling.name) != self.sampling.name \
                and "steps" not in sampling:
            sampling["steps"] = None
        changes = {k: v for k, v in changes.items() if v is not None}
        if sampling:
            changes["sampling"] = dataclasses.replace(self.sampling, **sampling)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "bundle") -> SynthesisSettings:
        """Parse the metadata's JSON; unknown fields are an error naming ``source``. Bundles of
        format version 2 hold the sampling fields flat (``sampler``, ``steps``, ...)."""
        try:
            values = json.loads(text)
        except ValueError as error:
            raise SpecdiffError(f"{source}: the synthesis settings are not JSON ({error})") \
                from None
        flat = {key: values.pop(key) for key in _FLAT_SAMPLING if key in values}
        sampling = values.pop("sampling", {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known) + sorted(
            set(sampling) - {f.name for f in dataclasses.fields(SamplerConfig)})
        if unknown:
            raise SpecdiffError(f"{source}: unknown synthesis settings {unknown} (written by a "
                                "newer specdiff?)")
        sampling = {**{_FLAT_SAMPLING[k]: v for k, v in flat.items()}, **sampling}
        return cls(sampling=SamplerConfig(**sampling), **values)


_FLAT_SAMPLING = {"sampler": "name", "steps": "steps", "guidance": "guidance",
                  "guidance_interval": "guidance_interval"}
"""Format version 2's sampling keys -> `SamplerConfig` fields."""


QUALITIES = ("draft", "default", "best")
"""Presets for people (``specdiff synth --quality``), relative to a bundle's own settings."""
DRAFT_INTERVAL = (0.1, 1.0)
"""The draft preset's guidance interval: no unconditional pass below t = 0.1, where guidance
changed nothing measurable on validation pieces (BENCHMARKS.md, sampling settings)."""


def with_quality(settings: SynthesisSettings, quality: str) -> SynthesisSettings:
    """``settings`` under a preset: ``default`` keeps them; ``draft`` takes half the steps (at
    least 6) with guidance only above t = 0.1 and the device's fastest precision (``auto``);
    ``best`` is the paper's recipe: 1000 ancestral DDPM steps, guidance at every step, float32.
    """
    if quality == "default":
        return settings
    if quality == "draft":
        sampling = dataclasses.replace(settings.sampling,
                                       steps=max(6, settings.sampling.num_steps // 2),
                                       guidance_interval=DRAFT_INTERVAL)
        return dataclasses.replace(settings, sampling=sampling, precision="auto")
    if quality == "best":
        sampling = dataclasses.replace(settings.sampling, name="ddpm", steps=1000,
                                       guidance_interval=None)
        return dataclasses.replace(settings, sampling=sampling, precision="fp32")
    raise SpecdiffError(f"quality {quality!r}: expected one of {list(QUALITIES)}")
