"""Checkpoint formats: (kind, config, state, synthesis settings), and no model classes.

specdiff's own format is one ``.safetensors`` file whose metadata holds ``format = "specdiff"``,
``version``, ``kind`` (``"spectrogram_diffusion"`` or ``"autoregressive"``), the JSON
`ModelConfig`, the JSON `SynthesisSettings` and a JSON ``provenance``: a model bundle
(`specdiff.bundle`). A folder holding one such file (and the vocoder file its settings name) is
a bundle too. The diffusers hub layout (`specdiff.checkpoints.diffusers`) and the unofficial
port's Lightning ``.ckpt`` (`specdiff.checkpoints.port`) are read into the same `Checkpoint`,
with the official settings; pickled weights are only ever read with ``weights_only=True``.
Models are built from a `Checkpoint` by `specdiff.models.build_model`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from specdiff.bundle import NAMED_VOCODERS, SynthesisSettings
from specdiff.checkpoints.diffusers import HUB_ID, VOCODER_FILE, map_diffusers_key, read_diffusers
from specdiff.checkpoints.port import read_port
from specdiff.errors import SpecdiffError
from specdiff.models.config import ModelConfig

FORMAT = "specdiff"
FORMAT_VERSION = "3"
"""1: weights and config. 2: + synthesis settings and provenance (a file of version 1 reads with
the default settings). 3: the settings' sampler fields grouped under ``sampling`` (version 2's
flat fields still read)."""
DIFFUSION = "spectrogram_diffusion"
AUTOREGRESSIVE = "autoregressive"
KINDS = (DIFFUSION, AUTOREGRESSIVE)


@dataclass
class Checkpoint:
    """Everything a checkpoint holds, whatever its format.

    Attributes:
        kind: ``"spectrogram_diffusion"`` or ``"autoregressive"``.
        config: the network's sizes and numerics.
        state: the state dict in specdiff's layout.
        settings: how it synthesizes unless told otherwise.
        folder: where a vocoder file named by ``settings.vocoder`` is looked up (the bundle's or
            the diffusers layout's folder), or None.
        source: the path or id it was read from, for messages.
        provenance: free-form facts about its origin (``specdiff info`` prints them).
    """

    kind: str
    config: ModelConfig
    state: dict[str, torch.Tensor]
    settings: SynthesisSettings = field(default_factory=SynthesisSettings)
    folder: Path | None = None
    source: str = "checkpoint"
    provenance: dict[str, str] = field(default_factory=dict)

    def vocoder_file(self) -> Path | None:
        """The vocoder file ``settings.vocoder`` names, if it names a file of the bundle."""
        name = self.settings.vocoder
        if self.folder is None or name in NAMED_VOCODERS:
            return None
        return self.folder / name

    @property
    def num_parameters(self) -> int:
        return sum(t.numel() for t in self.state.values())


# ---------------------------------------------------------------------------- our format
def read_specdiff(path: str | Path) -> Checkpoint:
    """Read our ``.safetensors`` format (any kind)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("kind") not in KINDS:
                raise SpecdiffError(
                    f"{path}: not a specdiff model file (expected safetensors metadata "
                    f"format={FORMAT!r}, kind one of {KINDS}); convert it with `specdiff convert`")
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    except SpecdiffError:
        raise
    except Exception as error:
        raise SpecdiffError(f"{path}: cannot read the safetensors file ({error})") from None
    try:
        values = json.loads(meta["config"])
    except (KeyError, ValueError):
        raise SpecdiffError(f"{path}: the metadata has no valid JSON 'config'") from None
    settings = (SynthesisSettings.from_json(meta["synthesis"], str(path)) if "synthesis" in meta
                else SynthesisSettings(vocoder="griffin-lim"))
    try:
        provenance = json.loads(meta.get("provenance", "{}"))
    except ValueError:
        provenance = {}
    return Checkpoint(meta["kind"], ModelConfig.from_dict(values, source=str(path)), state,
                      settings, path.parent, str(path), provenance)


def write_specdiff(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` as one safetensors file (tensors in their dtype), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise SpecdiffError(f"{path}: the output must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in checkpoint.state.items()}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "kind": checkpoint.kind,
            "config": checkpoint.config.to_json(), "synthesis": checkpoint.settings.to_json(),
            "provenance": json.dumps(checkpoint.provenance, sort_keys=True)}
    tmp = path.with_name(path.name + ".partial")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------- resolution
def _looks_like_hub_id(source: str) -> bool:
    return re.fullmatch(r"[\w.-]+/[\w.-]+", source) is not None


def resolve(source: str | Path, local_files_only: bool = False) -> Path:
    """A local path for ``source``: an existing file/directory, or a hub snapshot of a repo id."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    if not _looks_like_hub_id(str(source)):
        raise SpecdiffError(f"{source}: no such file or directory")
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            repo_id=str(source), local_files_only=local_files_only,
            allow_patterns=["*.json", "*.safetensors", "*/diffusion_pytorch_model.bin", "melgan/*",
                            "*.onnx"])
    except Exception as error:
        hint = "" if not local_files_only else " (local_files_only: nothing is downloaded)"
        raise SpecdiffError(
            f"{source}: not a local file or directory, and the hub download failed{hint}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. "
            "Check the id and the network, or pass a local path") from None
    return Path(folder)


def read_checkpoint(source: str | Path, *, local_files_only: bool = False,
                    port_config: Any = None) -> Checkpoint:
    """Read any supported checkpoint: our file or bundle folder, a diffusers-layout folder, a hub
    id, or the port's ``.ckpt`` (``port_config``: its YAML config path, ``init_args`` dict or a
    `ModelConfig`; None infers the sizes, head width 64)."""
    path = resolve(source, local_files_only)
    if port_config is not None and path.suffix != ".ckpt":
        raise SpecdiffError(f"{path}: a port config applies to the port's .ckpt files only")
    if path.is_dir():
        if (path / "notes_encoder").is_dir():
            config, state, onnx = read_diffusers(path)
            settings = SynthesisSettings(vocoder=VOCODER_FILE if onnx else "griffin-lim")
            return Checkpoint(DIFFUSION, config, state, settings, path, str(source),
                              {"format": "diffusers", "source": str(source)})
        files = sorted(path.glob("*.safetensors"))
        if len(files) == 1:
            return read_specdiff(files[0])
        raise SpecdiffError(f"{path}: expected a diffusers layout (notes_encoder/, decoder/, ...) "
                            "or a bundle folder with one specdiff .safetensors file")
    if path.suffix == ".safetensors":
        return read_specdiff(path)
    if path.suffix == ".ckpt":
        kind, config, state = read_port(path, port_config)
        return Checkpoint(kind, config, state, SynthesisSettings(vocoder="griffin-lim"), None,
                          str(path), {"format": "port .ckpt", "source": path.name})
    raise SpecdiffError(f"{path}: expected a .safetensors file, a bundle or diffusers-layout "
                        "folder, a hub id or the port's .ckpt")


__all__ = ["AUTOREGRESSIVE", "Checkpoint", "DIFFUSION", "FORMAT", "FORMAT_VERSION", "HUB_ID",
           "KINDS", "map_diffusers_key", "read_checkpoint", "read_diffusers", "read_port",
           "read_specdiff", "resolve", "write_specdiff"]
