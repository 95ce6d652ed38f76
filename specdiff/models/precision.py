"""Reduced precision for inference: what a device runs natively, and casting a model to it with
the parts that need float32 (the noise-time embedding) kept in float32.

Norms compute in float32 whatever the weights (`specdiff.models.t5.RMSNorm`), attention's softmax
accumulates in float32 inside ``scaled_dot_product_attention``, the decoder's output is returned
as float32 and the samplers' arithmetic is float32/float64, so a cast model differs from float32
only in its matrix products.
"""

from __future__ import annotations

import torch
from torch import nn

from specdiff.errors import SpecdiffError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Precision name -> the dtype of the weights and activations."""

FP32_MODULES = ("decoder.time_embed",)
"""Submodules kept in float32: the noise-time MLP sees a sinusoid of up to 2e4 radians, whose
phase bfloat16 cannot hold."""


def native_precisions(device: str | torch.device) -> tuple[str, ...]:
    """The precisions ``device`` computes natively (a CPU without bf16 instructions emulates
    bfloat16, slower than float32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return ("fp32", "bf16", "fp16") if torch.cuda.is_bf16_supported() else ("fp32", "fp16")
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return ("fp32", "bf16")
    return ("fp32",)


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``auto`` -> the fastest native precision of ``device`` (bf16 where it has bf16 matrix
    instructions, fp16 on a GPU without bf16, else fp32); other names are returned as they are."""
    if precision == "auto":
        native = native_precisions(device)
        return "bf16" if "bf16" in native else ("fp16" if "fp16" in native else "fp32")
    if precision not in DTYPES:
        raise SpecdiffError(f"precision {precision!r}: expected auto or one of {list(DTYPES)}")
    return precision


def apply_precision(model: nn.Module, precision: str) -> nn.Module:
    """Cast ``model`` in place to ``precision`` (a `DTYPES` name), `FP32_MODULES` excepted."""
    model.to(DTYPES[precision])
    for name in FP32_MODULES:
        try:
            model.get_submodule(name).float()
        except AttributeError:
            pass  # a model without it (the autoregressive one)
    return model
