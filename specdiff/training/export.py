"""``specdiff export``: a training checkpoint's EMA weights -> our ``.safetensors`` format."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from specdiff.errors import SpecdiffError

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


def checkpoint_model(checkpoint: str | Path, use_ema: bool = True):
    """The model of a `specdiff fit` checkpoint: its EMA (or raw, ``use_ema=False``) weights in
    the class and config the checkpoint records, in eval mode (float32)."""
    from specdiff.models import ModelConfig, SpectrogramDiffusion
    from specdiff.models.autoregressive import AutoregressiveModel

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
    cls = SpectrogramDiffusion if info["kind"] == "spectrogram_diffusion" else AutoregressiveModel
    model = cls(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise SpecdiffError(f"{checkpoint}: weights do not match the config ({error})") from None
    return model.eval()


def export_checkpoint(checkpoint: str | Path, output: str | Path, use_ema: bool = True,
                      dtype: torch.dtype = torch.float32):
    """Write the EMA (or raw, ``use_ema=False``) weights of a training checkpoint in our format,
    stored as ``dtype`` (float16 halves the file; loading casts back to the model's dtype).

    Returns:
        The exported model (``SpectrogramDiffusion`` or ``AutoregressiveModel``), in eval mode.
    """
    model = checkpoint_model(checkpoint, use_ema)
    model.to(dtype).save_pretrained(output)
    return model.float()
