"""The notes encoder (token ids) and the context encoder (previous segment's spectrogram)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from specdiff.models.t5 import EncoderLayer, RMSNorm, attention_bias


def permuted_sinusoid_table(rows: int, dim: int, max_scale: float = 1e4,
                            generator: torch.Generator | None = None) -> Tensor:
    """Official ``fixed_permuted_offset`` positions, for models trained from scratch.

    Columns [0, dim/2) hold sin(p f_k + phi_k) and [dim/2, dim) cos(p f_k + psi_k), with
    f_k = exp(-k ln(max_scale) / (dim/2 - 1)) and phases phi, psi ~ U[0, 2 pi); then all columns
    are randomly permuted. Checkpoints carry their own tables, which always replace this one.

    Returns:
        (rows, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_scale) * torch.arange(half, dtype=torch.float64)
                      / max(half - 1, 1))
    phases = torch.rand(2, half, generator=generator, dtype=torch.float64) * 2 * math.pi
    args = torch.arange(rows, dtype=torch.float64)[:, None] * freqs[None, :]  # (rows, half)
    table = torch.cat([torch.sin(args + phases[0]), torch.cos(args + phases[1])], dim=1)
    return table[:, torch.randperm(dim, generator=generator)].float()


def frozen_table(rows: int, dim: int) -> nn.Parameter:
    """A position table: a parameter loaded from checkpoints and never trained (official
    stop_gradient); initialised with `permuted_sinusoid_table` for training from scratch."""
    if torch.empty(0).device.type == "meta":  # building a skeleton to load weights into
        return nn.Parameter(torch.empty(rows, dim), requires_grad=False)
    return nn.Parameter(permuted_sinusoid_table(rows, dim), requires_grad=False)


def terminal_relative_positions(mask: Tensor) -> Tensor:
    """Official "terminal_relative" context positions.

    The sequence length k of a row is the index of its first 0 in the mask (T if none); positions
    are arange(T) rolled right by k, so the last valid frame gets position T-1:
    k valid frames give [T-k, ..., T-1, 0, 1, ...]. All-ones and all-zeros masks give arange(T).

    Args:
        mask: (B, T) bool / 0-1 frame mask.

    Returns:
        (B, T) int64 positions.
    """
    b, t = mask.shape
    valid = mask.bool()
    first_zero = torch.where(~valid, torch.arange(t, device=mask.device), t).amin(dim=1)  # (B,)
    return (torch.arange(t, device=mask.device)[None, :] - first_zero[:, None]) % t


class _Stack(nn.Module):
    """Encoder layers followed by the final RMSNorm."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, head_dim: int, d_ff: int,
                 dropout: float, eps: float, scale_attention: bool, gelu_approximate: str):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(dim, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate)
            for _ in range(num_layers))
        self.final_norm = RMSNorm(dim, eps)
        self.dropout = nn.Dropout(dropout)

    def run(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.dropout(x)
        bias = attention_bias(mask, x.dtype)
        for layer in self.layers:
            x = layer(x, bias)
        return self.dropout(self.final_norm(x))


class NotesEncoder(_Stack):
    """Token ids -> encodings: embed + absolute position table, T5 encoder stack.

    Args:
        vocab_size: embedding rows; max_tokens: position table rows; the rest as `EncoderLayer`.
    """

    def __init__(self, vocab_size: int, max_tokens: int, dim: int, num_layers: int, num_heads: int,
                 head_dim: int, d_ff: int, dropout: float = 0.0, eps: float = 1e-6,
                 scale_attention: bool = False, gelu_approximate: str = "tanh"):
        super().__init__(dim, num_layers, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate)
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_table = frozen_table(max_tokens, dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens (B, L) int ids, 0 = PAD -> (encodings (B, L, d), mask (B, L) bool = id > 0)."""
        length = tokens.shape[1]
        if length > self.position_table.shape[0]:
            raise ValueError(
                f"{length} tokens exceed the position table ({self.position_table.shape[0]})")
        x = self.token_embedding(tokens) + self.position_table[:length]
        mask = tokens > 0
        return self.run(x, mask), mask


class ContextEncoder(_Stack):
    """Previous segment's scaled spectrogram -> encodings, with terminal-relative positions.

    Args:
        n_mels: input channels; context_length: position table rows; the rest as `EncoderLayer`.
    """

    def __init__(self, n_mels: int, context_length: int, dim: int, num_layers: int, num_heads: int,
                 head_dim: int, d_ff: int, dropout: float = 0.0, eps: float = 1e-6,
                 scale_attention: bool = False, gelu_approximate: str = "tanh"):
        super().__init__(dim, num_layers, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate)
        self.input_proj = nn.Linear(n_mels, dim, bias=False)
        self.position_table = frozen_table(context_length, dim)

    def forward(self, context: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """context (B, T, n_mels) in [-1, 1], mask (B, T) -> (encodings (B, T, d), mask bool)."""
        if context.shape[1] > self.position_table.shape[0]:
            raise ValueError(f"{context.shape[1]} context frames exceed the position table "
                             f"({self.position_table.shape[0]})")
        mask = mask.bool()
        x = self.input_proj(context) + self.position_table[terminal_relative_positions(mask)]
        return self.run(x, mask), mask
