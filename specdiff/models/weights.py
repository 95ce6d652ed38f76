"""Strict loading of a state dict into a freshly built network."""

from __future__ import annotations

import torch
from torch import nn

from specdiff.errors import SpecdiffError


def _aligned(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``tensor`` as ``dtype``, contiguous and 64-byte aligned: as it is when it already is, else
    a fresh copy. A converter's views (halves of a fused projection) or a memory-mapped file's odd
    offsets would otherwise take other matmul kernels than the same weights loaded another way,
    and the audio would differ in the last bits between routes."""
    if tensor.dtype == dtype and tensor.is_contiguous() and tensor.data_ptr() % 64 == 0:
        return tensor
    return tensor.to(dtype, copy=True, memory_format=torch.contiguous_format)


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state`` (any float dtype, cast to the model's) into ``model``, built on the meta
    device, and return it in eval mode. Missing, unexpected and mis-shaped keys are named; the
    position tables stay frozen. ``state`` is consumed (emptied) as it is loaded, so a large
    checkpoint is never held twice."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad = sorted(k for k in set(state) & set(expected)
                 if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or bad:
        detail = (f"{bad[0]} has shape {tuple(state[bad[0]].shape)}, the config implies "
                  f"{tuple(expected[bad[0]].shape)}" if bad else
                  f"missing {missing[:5]}, unexpected {unexpected[:5]}")
        raise SpecdiffError(f"{source}: weights do not match the config ({detail})")
    loaded = {key: _aligned(state.pop(key), expected[key].dtype) for key in list(state)}
    model.load_state_dict(loaded, assign=True)
    for name, param in model.named_parameters():
        if name.endswith("position_table"):
            param.requires_grad_(False)
    return model.eval()


def instantiate(cls: type[nn.Module], checkpoint, kind: str) -> nn.Module:
    """``cls`` built from a `specdiff.checkpoints.Checkpoint` of ``kind``, weights loaded
    strictly, in eval mode."""
    if checkpoint.kind != kind:
        label = {"spectrogram_diffusion": "a diffusion", "autoregressive": "an autoregressive"}
        raise SpecdiffError(f"{checkpoint.source}: {label[checkpoint.kind]} model, not "
                            f"{label[kind]} model; load it with specdiff.models.builder.load_model"
                            " (specdiff synth and convert do)")
    with torch.device("meta"):
        model = cls(checkpoint.config)
    return load_strict(model, checkpoint.state, checkpoint.source)
