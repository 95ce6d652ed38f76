"""``specdiff export``: a training checkpoint's EMA weights -> a model bundle."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from specdiff.bundle import SynthesisSettings
from specdiff.checkpoints import Checkpoint, write_specdiff
from specdiff.errors import SpecdiffError
from specdiff.models.builder import build_model
from specdiff.models.config import ModelConfig

#: checkpoint["specdiff"]["kind"] -> the model class that loads the export
KINDS = ("spectrogram_diffusion", "autoregressive")


def read_checkpoint(path: str | Path) -> dict:
    """Load a Lightning checkpoint with ``weights_only=True`` (no arbitrary unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise SpecdiffError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise SpecdiffError(f"{path}: cannot read the checkpoint ({type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else ''})") from None


def _training_checkpoint(checkpoint: str | Path, use_ema: bool) -> Checkpoint:
    """The EMA (or raw) weights of a `specdiff fit` checkpoint as a `Checkpoint`."""
    ckpt = read_checkpoint(checkpoint)
    info = ckpt.get("specdiff")
    if not isinstance(info, dict) or info.get("kind") not in KINDS:
        raise SpecdiffError(f"{checkpoint}: not a specdiff training checkpoint of a model "
                            f"(expected a 'specdiff' entry with kind in {KINDS})")
    config = ModelConfig.from_dict(json.loads(info["config"]), source=str(checkpoint))
    prefix = "ema." if use_ema else "model."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    if not state:
        raise SpecdiffError(f"{checkpoint}: no {prefix}* weights in the state dict")
    return Checkpoint(info["kind"], config, state, source=str(checkpoint),
                      provenance={"exported_from": Path(checkpoint).name,
                                  "weights": "EMA" if use_ema else "raw"})


def checkpoint_model(checkpoint: str | Path, use_ema: bool = True):
    """The model of a `specdiff fit` checkpoint: its EMA (or raw, ``use_ema=False``) weights in
    the class and config the checkpoint records, in eval mode (float32)."""
    return build_model(_training_checkpoint(checkpoint, use_ema))


def export_checkpoint(checkpoint: str | Path, output: str | Path, use_ema: bool = True,
                      dtype: torch.dtype = torch.float32,
                      settings: SynthesisSettings | None = None):
    """Write the EMA (or raw, ``use_ema=False``) weights of a training checkpoint as a bundle,
    stored as ``dtype`` (float16 halves the file; loading casts back to the model's dtype), with
    ``settings`` (default: the official path's).

    Returns:
        The exported model (``SpectrogramDiffusion`` or ``AutoregressiveModel``), in eval mode.
    """
    bundle = _training_checkpoint(checkpoint, use_ema)
    model = build_model(bundle)
    bundle.state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    bundle.settings = settings or SynthesisSettings()
    write_specdiff(bundle, output)
    return model
