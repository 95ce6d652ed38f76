"""One builder: a `Checkpoint` (any format) -> the network it describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from specdiff.checkpoints import AUTOREGRESSIVE, DIFFUSION, Checkpoint, read_checkpoint
from specdiff.models.autoregressive import AutoregressiveModel
from specdiff.models.spectrogram_diffusion import SpectrogramDiffusion
from specdiff.models.weights import instantiate

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    DIFFUSION: SpectrogramDiffusion, AUTOREGRESSIVE: AutoregressiveModel}


def build_model(checkpoint: Checkpoint) -> SpectrogramDiffusion | AutoregressiveModel:
    """The network of ``checkpoint`` with its weights loaded strictly, in eval mode (float32)."""
    return instantiate(MODEL_CLASSES[checkpoint.kind], checkpoint, checkpoint.kind)


def load_model(source: str | Path, *, device: str | torch.device | None = None,
               local_files_only: bool = False, port_config: Any = None
               ) -> SpectrogramDiffusion | AutoregressiveModel:
    """Read any supported checkpoint (`specdiff.checkpoints.read_checkpoint`) and build it."""
    checkpoint = read_checkpoint(source, local_files_only=local_files_only,
                                 port_config=port_config)
    model = build_model(checkpoint)
    return model.to(device) if device is not None else model
