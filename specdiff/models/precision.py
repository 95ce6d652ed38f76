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
    if precision not in (*DTYPES, "int8"):
        raise SpecdiffError(f"precision {precision!r}: expected auto, int8 or one of "
                            f"{list(DTYPES)}")
    return precision


INT8_MODULES = ("notes_encoder.layers", "context_encoder.layers", "decoder.layers", "layers")
"""Layer stacks whose linear layers ``int8`` quantizes (the input/output projections, the
embeddings and the time MLP stay float32)."""


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization (int8 weights, activations quantized per call) of the linear
    layers in `INT8_MODULES`, in place; CPU only."""
    import warnings

    for name in INT8_MODULES:
        try:
            stack = model.get_submodule(name)
        except AttributeError:
            continue
        with warnings.catch_warnings():  # torch.ao's notice that it moves to torchao
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(stack, {nn.Linear},
                                                               dtype=torch.qint8)
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, quantized)
    return model


def apply_precision(model: nn.Module, precision: str) -> nn.Module:
    """Cast ``model`` in place to ``precision`` (a `DTYPES` name, or ``int8``), `FP32_MODULES`
    excepted."""
    if precision == "int8":
        if model.device.type != "cpu":
            raise SpecdiffError(f"precision int8: CPU only, the model is on {model.device}")
        return quantize_int8(model.float())
    model.to(DTYPES[precision])
    for name in FP32_MODULES:
        try:
            model.get_submodule(name).float()
        except AttributeError:
            pass  # a model without it (the autoregressive one)
    return model
