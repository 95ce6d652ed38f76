"""Resolve a vocoder from a name, an .onnx file or a model folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from specdiff.errors import SpecdiffError
from specdiff.vocoders.base import Vocoder

VocoderFactory = Callable[..., Vocoder]

_FACTORIES: dict[str, VocoderFactory] = {}
_ALIASES = {"griffinlim": "griffin-lim", "gl": "griffin-lim"}
# Where the SoundStream decoder lives in the hub (diffusers) layout, relative to a model folder.
ONNX_LAYOUT = ("melgan/model.onnx", "model.onnx")
# Names reserved for vocoders not registered yet ("specdiff" is now registered below).
RESERVED: tuple[str, ...] = ()


def register_vocoder(name: str, factory: VocoderFactory) -> None:
    """Make ``load_vocoder(name)`` call ``factory(device=..., **kwargs)``."""
    _FACTORIES[name.lower()] = factory


def vocoder_names() -> list[str]:
    """Registered vocoder names."""
    return sorted(_FACTORIES)


def _griffin_lim(device: torch.device | str | None = None, **kwargs) -> Vocoder:
    from specdiff.vocoders.griffin_lim import GriffinLim

    return GriffinLim(device=device, **kwargs)


def _onnx(path: Path, device: torch.device | str | None, **kwargs) -> Vocoder:
    from specdiff.vocoders.soundstream import SoundStreamOnnx

    return SoundStreamOnnx(path, device=device, **kwargs)


def _specdiff(device: torch.device | str | None = None, path=None, **kwargs) -> Vocoder:
    from specdiff.vocoders.neural import load_neural_vocoder

    return load_neural_vocoder(path, device=device, **kwargs)


register_vocoder("griffin-lim", _griffin_lim)
register_vocoder("specdiff", _specdiff)


def find_onnx_vocoder(folder: str | os.PathLike) -> Path | None:
    """The SoundStream ONNX file inside a model folder (``melgan/model.onnx``), if any."""
    for relative in ONNX_LAYOUT:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None


def load_vocoder(
    name_or_path: str | os.PathLike | Vocoder,
    device: torch.device | str | None = None,
    **kwargs,
) -> Vocoder:
    """Resolve a vocoder.

    Args:
        name_or_path: a ``Vocoder`` (returned as is); a registered name ("griffin-lim");
            "specdiff" (specdiff's own vocoder, shipped in the package); a specdiff vocoder
            ``.safetensors`` file; a path to a SoundStream ``.onnx`` file; or a folder holding
            ``melgan/model.onnx`` (the hub layout) or ``model.onnx``.
        device: where the vocoder runs.
        **kwargs: passed to the vocoder's constructor (e.g. ``n_iter`` for Griffin-Lim).

    Raises:
        SpecdiffError: unknown name, missing file, or a folder without an ONNX vocoder.
    """
    if isinstance(name_or_path, Vocoder):
        return name_or_path if device is None else name_or_path.to(device)
    text = str(name_or_path)
    key = _ALIASES.get(text.lower(), text.lower())
    if key in _FACTORIES:
        return _FACTORIES[key](device=device, **kwargs)
    if key in RESERVED:
        raise SpecdiffError(
            f"vocoder {text!r}: specdiff's own neural vocoder is not available yet; use "
            "'griffin-lim' or the SoundStream decoder (a melgan/model.onnx file)"
        )
    path = Path(name_or_path).expanduser()
    if path.is_file():
        if path.suffix.lower() == ".safetensors":
            return _specdiff(device=device, path=path, **kwargs)
        if path.suffix.lower() != ".onnx":
            raise SpecdiffError(f"{path}: not a vocoder; expected an .onnx file")
        return _onnx(path, device, **kwargs)
    if path.is_dir():
        found = find_onnx_vocoder(path)
        if found is None:
            raise SpecdiffError(
                f"{path}: no vocoder in this folder; expected {' or '.join(ONNX_LAYOUT)}"
            )
        return _onnx(found, device, **kwargs)
    choices = ", ".join(repr(name) for name in [*vocoder_names(), *RESERVED])
    raise SpecdiffError(
        f"vocoder {text!r}: unknown; expected one of {choices}, an .onnx file, or a folder with "
        "melgan/model.onnx"
    )
