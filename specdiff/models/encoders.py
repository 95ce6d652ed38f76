"""The notes encoder (token ids) and the context encoder (previous segment's spectrogram)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from specdiff.models.t5 import EncoderLayer, attention_bias, make_norm


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
    """Encoder layers followed by the final norm."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, head_dim: int, d_ff: int,
                 dropout: float, eps: float, scale_attention: bool, gelu_approximate: str,
                 norm_type: str = "rms", bias: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(dim, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate, norm_type, bias)
            for _ in range(num_layers))
        self.final_norm = make_norm(dim, eps, norm_type)
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
        vocab_size: embedding rows; max_tokens: position table rows;
        mask_padding: mask PAD (id 0) keys (official); False attends to every position (the
            port, whose id 0 is also "shift 0"); the rest as `EncoderLayer`.
    """

    def __init__(self, vocab_size: int, max_tokens: int, dim: int, num_layers: int, num_heads: int,
                 head_dim: int, d_ff: int, dropout: float = 0.0, eps: float = 1e-6,
                 scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False, mask_padding: bool = True):
        super().__init__(dim, num_layers, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate, norm_type, bias)
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_table = frozen_table(max_tokens, dim)
        self.mask_padding = mask_padding

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens (B, L) int ids, 0 = PAD -> (encodings (B, L, d), mask (B, L) bool = id > 0,
        all True without ``mask_padding``)."""
        length = tokens.shape[1]
        if length > self.position_table.shape[0]:
            raise ValueError(
                f"{length} tokens exceed the position table ({self.position_table.shape[0]})")
        x = self.token_embedding(tokens) + self.position_table[:length]
        mask = tokens > 0 if self.mask_padding else torch.ones_like(tokens, dtype=torch.bool)
        return self.run(x, mask), mask


class ContextEncoder(_Stack):
    """Previous segment's scaled spectrogram -> encodings, with terminal-relative positions.

    Args:
        n_mels: input channels; context_length: position table rows;
        shared_input: no input projection and position table of its own: the caller passes the
            decoder's (the port's layout, positions 0..T-1); the rest as `EncoderLayer`.
    """

    def __init__(self, n_mels: int, context_length: int, dim: int, num_layers: int, num_heads: int,
                 head_dim: int, d_ff: int, dropout: float = 0.0, eps: float = 1e-6,
                 scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False, shared_input: bool = False):
        super().__init__(dim, num_layers, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate, norm_type, bias)
        if not shared_input:
            self.input_proj = nn.Linear(n_mels, dim, bias=bias)
            self.position_table = frozen_table(context_length, dim)

    def forward(self, context: Tensor, mask: Tensor, input_proj: nn.Module | None = None,
                position_table: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """context (B, T, n_mels) in [-1, 1], mask (B, T) -> (encodings (B, T, d), mask bool).

        ``input_proj`` and ``position_table`` replace the encoder's own (``shared_input``).
        """
        input_proj = input_proj if input_proj is not None else self.input_proj
        table = position_table if position_table is not None else self.position_table
        if context.shape[1] > table.shape[0]:
            raise ValueError(f"{context.shape[1]} context frames exceed the position table "
                             f"({table.shape[0]})")
        mask = mask.bool()
        x = input_proj(context) + table[terminal_relative_positions(mask)]
        return self.run(x, mask), mask
