"""Initialisation for training from scratch: T5X-style weights and the fixed position tables."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from specdiff.models.t5 import Attention


def permuted_sinusoid_table(rows: int, dim: int, generator: torch.Generator,
                            max_scale: float = 1e4) -> Tensor:
    """Official ``fixed_permuted_offset`` position table (model.md §4.4).

    Columns [0, d/2) hold sin(p f_k + phi_k), [d/2, d) hold cos(p f_k + psi_k), with
    f_k = exp(-k ln(max_scale) / (d/2 - 1)), phi, psi ~ U[0, 2 pi); then all d columns are permuted.

    Returns:
        (rows, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_scale) * torch.arange(half, dtype=torch.float64) / max(half - 1, 1))
    pos = torch.arange(rows, dtype=torch.float64)[:, None] * freqs[None, :]
    phi = torch.rand(half, generator=generator, dtype=torch.float64) * 2 * math.pi
    psi = torch.rand(half, generator=generator, dtype=torch.float64) * 2 * math.pi
    table = torch.cat([torch.sin(pos + phi), torch.cos(pos + psi)], dim=1)
    return table[:, torch.randperm(dim, generator=generator)].float()


@torch.no_grad()
def init_weights(model: nn.Module, seed: int = 0, zero_output: bool = True) -> nn.Module:
    """Re-initialise ``model`` in place for training from scratch; returns it.

    * Linear weights ~ N(0, 1/fan_in) (T5X ``variance_scaling(1, fan_in)``); attention queries get an
      extra 1/sqrt(head_dim), the factor T5 folds into the query instead of scaling the logits.
    * Embeddings ~ N(0, 1); norms = 1.
    * With ``zero_output``, a diffusion decoder's output projection and FiLM projections start at
      zero (the network starts at eps = 0, the best constant guess, and every FiLM at the
      identity), which shortens the start of training with AdamW. Pass False for Adafactor: it
      scales each step by lr * max(1e-3, RMS(param)), so a zero matrix would move ~1e-6 a step.
    * Frozen ``position_table`` parameters of a diffusion model get the permuted sinusoids; the
      autoregressive model keeps its fixed sinusoids (they are already set at construction).
    """
    from specdiff.models.autoregressive import AutoregressiveModel

    g = torch.Generator().manual_seed(seed)
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            std = module.in_features ** -0.5
            module.weight.copy_(torch.randn(module.weight.shape, generator=g) * std)
        elif isinstance(module, nn.Embedding):
            module.weight.copy_(torch.randn(module.weight.shape, generator=g))
        if isinstance(module, Attention) and not math.isclose(module.scale, module.head_dim**-0.5):
            module.q.weight.mul_(module.head_dim**-0.5)
    if not isinstance(model, AutoregressiveModel):
        for name, param in model.named_parameters():
            zeroed = name.startswith("decoder.") and name.endswith(("output_proj.weight",
                                                                   "film.proj.weight"))
            if zero_output and zeroed:
                param.zero_()
            if name.endswith("position_table"):
                param.copy_(permuted_sinusoid_table(*param.shape, generator=g))
    return model


@torch.no_grad()
def time_aligned_shifts(model: nn.Module) -> nn.Module:
    """Give the notes encoder's shift-token embeddings the decoder's frame positions; returns it.

    A shift token names the absolute time of the events after it (10 ms steps from the segment
    start); the decoder's query for frame f starts from row f of its fixed position table. With
    independent random embeddings, each of the ~500 shift values must learn on its own which
    frames it belongs to, and cross-attention finds no notes for thousands of steps. Here shift s
    gets ``(sqrt(2) table[s // steps_per_frame] + e) / sqrt(2)``: the position row of its frame
    (scaled to unit RMS, the embeddings' own scale), plus one random vector ``e`` shared by all
    shifts (the "this is a shift" part). Nearby times start with similar embeddings, so one
    alignment learned by the attention projections could serve every time. Only the initial
    values change: the architecture and checkpoint format are the official ones. (Measured on
    `scripts/conditioning_toy.py`: alone, no gain over random rows within 1400 steps; with the
    guided cross-attention loss, twice the gap of random rows: x0 MSE at t = 0.9 with a window's
    own / another window's tokens 0.0967 / 0.0997 against 0.0984 / 0.1000 at step 1 500.)

    Args:
        model: a `SpectrogramDiffusion`.
    """
    codec = model.config.token_codec
    table = model.decoder.position_table
    embedding = model.notes_encoder.token_embedding.weight
    steps = torch.arange(codec.event_sizes["shift"])
    frames = (steps // codec.steps_per_frame).clamp(max=table.shape[0] - 1)
    shared = torch.randn(embedding.shape[1], generator=torch.Generator().manual_seed(0))
    rows = (math.sqrt(2.0) * table[frames].float() + shared) / math.sqrt(2.0)
    ids = codec.token("shift", 0) + steps
    embedding[ids] = rows.to(embedding.dtype)
    return model
