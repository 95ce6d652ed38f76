"""T5 building blocks: RMSNorm, unscaled attention, gated-GELU MLP, pre-norm encoder layer.

Official numerics by default: all projections are bias-free and attention logits are not divided
by sqrt(head_dim) (the official model folded that factor into the query initialisation). The
unofficial port's variant (LayerNorm with bias, scaled attention, erf GELU, MLP biases) is chosen
by arguments (``norm_type``, ``scale_attention``, ``gelu_approximate``, ``bias``). Masks are
additive biases (0 or -1e10), so a row whose keys are all masked gets uniform weights, not NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MASK_VALUE = -1e10


def mask_value(dtype: torch.dtype) -> float:
    """`MASK_VALUE`, or the most negative finite value of a dtype that cannot hold it (fp16)."""
    return max(MASK_VALUE, torch.finfo(dtype).min)


def attention_bias(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Additive key bias from a boolean key mask.

    Args:
        mask: (B, Lk) bool or 0/1, True/1 = attend.
        dtype: dtype of the attention logits.

    Returns:
        (B, 1, 1, Lk): 0 where attended, -1e10 where masked.
    """
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    bias = bias.masked_fill(~mask.bool(), mask_value(dtype))
    return bias[:, None, None, :]


class RMSNorm(nn.Module):
    """T5 layer norm: x * rsqrt(mean(x^2) + eps) * scale; no mean subtraction, no bias.

    The variance is computed in float32 whatever the input dtype.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(self.weight.dtype)


def make_norm(dim: int, eps: float, norm_type: str = "rms") -> nn.Module:
    """``"rms"``: T5 `RMSNorm` (weight only); ``"layer"``: ``nn.LayerNorm`` with weight and bias."""
    if norm_type == "rms":
        return RMSNorm(dim, eps)
    if norm_type == "layer":
        return nn.LayerNorm(dim, eps=eps)
    raise ValueError(f"norm_type must be 'rms' or 'layer', got {norm_type!r}")


class Attention(nn.Module):
    """Multi-head attention with bias-free q/k/v/o projections (T5 layout, heads contiguous).

    Args:
        dim: model width d.
        num_heads, head_dim: inner width is ``num_heads * head_dim`` (may differ from d).
        scale: multiply logits by 1/sqrt(head_dim) (False for T5).
        dropout: attention-probability dropout, training only.
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int, scale: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        inner = num_heads * head_dim
        self.num_heads, self.head_dim = num_heads, head_dim
        self.scale = head_dim**-0.5 if scale else 1.0
        self.dropout = dropout
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(dim, inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.o = nn.Linear(inner, dim, bias=False)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, L, H*Dh) -> (B, H, L, Dh)."""
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Project keys and values once: memory (B, Lk, d) -> two (B, H, Lk, Dh)."""
        return self.split_heads(self.k(memory)), self.split_heads(self.v(memory))

    def attend(self, x: Tensor, k: Tensor, v: Tensor, bias: Tensor | None = None) -> Tensor:
        """Queries from x (B, Lq, d) over projected keys/values (B, H, Lk, Dh) -> (B, Lq, d).

        ``bias`` is an additive (B, 1, 1 or Lq, Lk) logit bias, see `attention_bias`.
        """
        q = self.split_heads(self.q(x))
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p, scale=self.scale)
        b, _, n, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, n, -1))  # (B, Lq, H*Dh) -> (B, Lq, d)

    def forward(self, x: Tensor, memory: Tensor | None = None,
                bias: Tensor | None = None) -> Tensor:
        """Self-attention (memory None) or cross-attention over memory (B, Lk, d)."""
        k, v = self.keys_values(x if memory is None else memory)
        return self.attend(x, k, v, bias)


class GatedMLP(nn.Module):
    """Gated-GELU feed-forward: wo(dropout(gelu(wi_0 x) * wi_1 x)), bias-free unless ``bias``."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, approximate: str = "tanh",
                 bias: bool = False):
        super().__init__()
        self.wi_0 = nn.Linear(dim, hidden, bias=bias)
        self.wi_1 = nn.Linear(dim, hidden, bias=bias)
        self.wo = nn.Linear(hidden, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        h = F.gelu(self.wi_0(x), approximate=self.approximate) * self.wi_1(x)
        return self.wo(self.dropout(h))


class EncoderLayer(nn.Module):
    """Pre-norm T5 encoder layer: x + Attn(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-6, scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False):
        super().__init__()
        self.attention_norm = make_norm(dim, eps, norm_type)
        self.attention = Attention(dim, num_heads, head_dim, scale_attention, dropout)
        self.mlp_norm = make_norm(dim, eps, norm_type)
        self.mlp = GatedMLP(dim, d_ff, dropout, gelu_approximate, bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        """x (B, L, d), bias (B, 1, 1, L) additive key mask -> (B, L, d)."""
        x = x + self.dropout(self.attention(self.attention_norm(x), bias=bias))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))
