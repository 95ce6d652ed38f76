"""FiLM-conditioned T5 diffusion decoder: noisy spectrogram + noise time + encodings -> epsilon."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from specdiff.models.encoders import frozen_table
from specdiff.models.t5 import Attention, GatedMLP, attention_bias, make_norm


def timestep_embedding(t: Tensor, dim: int, max_time: float) -> Tensor:
    """Sinusoid of the noise time: [sin(tau * w_k) | cos(tau * w_k)], tau = t * max_time.

    w_k = exp(-k ln(max_time) / (dim/2 - 1)), k = 0..dim/2-1 (min timescale 1, max ``max_time``).
    The float32 operation order follows diffusers' ``get_timestep_embedding``, because tau reaches
    2e4 radians and rounding shows at 1e-4.

    Args:
        t: (B,) continuous time in [0, 1].

    Returns:
        (B, dim) float32.
    """
    half = dim // 2
    exponent = -math.log(max_time) * torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(exponent / (half - 1))
    args = (t.float() * max_time)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


def interleaved_time_signal(t: Tensor, dim: int, max_time: float) -> Tensor:
    """The port's noise-time sinusoid: channels 2k = cos(tau w_k), 2k+1 = sin(tau w_k).

    Same frequencies as `timestep_embedding` (w_k = exp(k * (-ln(max_time) / (dim/2 - 1))), the
    factor rounded to float32 first, as the port does), tau = t * max_time in float32; only the
    channel layout and the float32 operation order differ. At tau ~ 2e4 rad the order matters.

    Args:
        t: (B,) continuous time in [0, 1].

    Returns:
        (B, dim) float32.
    """
    half = dim // 2
    k = torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(k * (-math.log(max_time) / (half - 1)))
    args = (t.float() * max_time)[:, None] * freqs[None, :]  # (B, half)
    return torch.stack([torch.cos(args), torch.sin(args)], dim=-1).flatten(1)  # (B, half, 2)


TIME_SIGNALS = {"halves": timestep_embedding, "interleaved": interleaved_time_signal}


class FiLM(nn.Module):
    """x * (1 + scale) + shift, with [scale | shift] = Linear(cond) (bias-free unless ``bias``)."""

    def __init__(self, cond_dim: int, dim: int, bias: bool = False):
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * dim, bias=bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self.proj(cond).chunk(2, dim=-1)
        return x * (1 + scale) + shift


@dataclass
class Conditioning:
    """What the decoder is conditioned on, for a batch of segments (``SpectrogramDiffusion.encode``).

    Attributes:
        keys: (B, Lk, d) encodings that cross-attention reads: the notes, then the context.
        mask: (B, Lk) bool, True where a key is valid.
        frames: (B, T, d) features added to the decoder's input frames of conditional rows (the
            projected note roll of a ``note_roll`` model), or None.
    """

    keys: Tensor
    mask: Tensor
    frames: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.keys.shape[0]

    def unconditional(self) -> Conditioning:
        """The same shapes with every key masked and zeroed and no frames: what the
        unconditional rows of classifier-free guidance see."""
        return Conditioning(self.keys * 0, self.mask & False)


@dataclass
class CrossMemory:
    """Cross-attention keys/values of the encodings, projected once per segment.

    Attributes:
        keys, values: one (B, H, Lk, Dh) tensor per decoder layer.
        bias: (B, 1, 1, Lk) additive key mask.
        gate: (B, 1, 1) 1 where at least one key is valid, else 0 (official zero-if-masked).
        frames: (B, T, d) added to the decoder's input frames of conditional rows (the projected
            note roll of a ``note_roll`` model), or None.
    """

    keys: list[Tensor]
    values: list[Tensor]
    bias: Tensor
    gate: Tensor
    frames: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.bias.shape[0]


class DecoderLayer(nn.Module):
    """FiLM -> self-attention; cross-attention (no FiLM, zeroed if all keys masked); FiLM -> MLP."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-6, scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False):
        super().__init__()
        self.self_attention_norm = make_norm(dim, eps, norm_type)
        self.self_attention_film = FiLM(4 * dim, dim, bias)
        self.self_attention = Attention(dim, num_heads, head_dim, scale_attention, dropout)
        self.cross_attention_norm = make_norm(dim, eps, norm_type)
        self.cross_attention = Attention(dim, num_heads, head_dim, scale_attention, dropout)
        self.mlp_norm = make_norm(dim, eps, norm_type)
        self.mlp_film = FiLM(4 * dim, dim, bias)
        self.mlp = GatedMLP(dim, d_ff, dropout, gelu_approximate, bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, cond: Tensor, k: Tensor, v: Tensor, bias: Tensor, gate: Tensor,
                rows: Tensor | None = None) -> Tensor:
        """One layer.

        Args:
            y: (B, T, d) decoder stream; cond: (B, 1, 4d) time conditioning.
            k, v, bias, gate: cross-attention memory for the rows that attend (see `CrossMemory`).
            rows: (B',) indices of the rows of y that attend to the memory, or None for all rows.
                The other rows get exactly zero cross-attention (the unconditional pass).
        """
        h = self.self_attention_film(self.self_attention_norm(y), cond)
        y = y + self.dropout(self.self_attention(h))
        if rows is None:
            h = self.cross_attention.attend(self.cross_attention_norm(y), k, v, bias) * gate
            y = y + self.dropout(h)
        elif rows.numel():
            h = self.cross_attention_norm(y.index_select(0, rows))
            h = self.cross_attention.attend(h, k, v, bias) * gate
            y = y.index_add(0, rows, self.dropout(h))
        h = self.mlp_film(self.mlp_norm(y), cond)
        return y + self.dropout(self.mlp(h))


class FilmDecoder(nn.Module):
    """Noisy spectrogram x_t (B, T, n_mels) and time t (B,) -> epsilon (B, T, n_mels).

    Args:
        n_mels: spectrogram channels; target_length: position table rows;
        max_noise_time: t is multiplied by this before the sinusoid;
        time_signal: ``"halves"`` ([sin | cos], official) or ``"interleaved"`` (the port);
        bias: biases on the time MLP, FiLM, MLP and input/output projections (the port);
        the rest as `DecoderLayer`.
    """

    def __init__(self, n_mels: int, target_length: int, max_noise_time: float, dim: int,
                 num_layers: int, num_heads: int, head_dim: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-6, scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False, time_signal: str = "halves"):
        super().__init__()
        self.max_noise_time = max_noise_time
        self.time_signal = TIME_SIGNALS[time_signal]
        self.time_embed = nn.Sequential(
            nn.Linear(dim, 4 * dim, bias=bias), nn.SiLU(),
            nn.Linear(4 * dim, 4 * dim, bias=bias), nn.SiLU())
        self.position_table = frozen_table(target_length, dim)
        self.input_proj = nn.Linear(n_mels, dim, bias=bias)
        self.layers = nn.ModuleList(
            DecoderLayer(dim, num_heads, head_dim, d_ff, dropout, eps, scale_attention,
                         gelu_approximate, norm_type, bias)
            for _ in range(num_layers))
        self.final_norm = make_norm(dim, eps, norm_type)
        self.output_proj = nn.Linear(dim, n_mels, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def memory(self, encodings: Tensor, mask: Tensor, frames: Tensor | None = None) -> CrossMemory:
        """Project the encodings (B, Lk, d) with key mask (B, Lk) into every layer's K/V;
        ``frames`` (B, T, d), if given, are added to the input of conditional rows."""
        keys, values = [], []
        for layer in self.layers:
            k, v = layer.cross_attention.keys_values(encodings)
            keys.append(k)
            values.append(v)
        mask = mask.bool()
        gate = mask.any(dim=1).to(encodings.dtype)[:, None, None]
        return CrossMemory(keys, values, attention_bias(mask, encodings.dtype), gate, frames)

    def forward(self, x_t: Tensor, t: Tensor, memory: CrossMemory,
                conditional: Tensor | None = None) -> Tensor:
        """Predict epsilon.

        Args:
            x_t: (B, T, n_mels) noisy spectrogram in the scaled space.
            t: (B,) continuous noise time in [0, 1].
            memory: from `memory`; row i of x_t uses memory row i % memory.batch_size
                (so B may be a multiple of the memory batch).
            conditional: (B,) bool, False marks unconditional rows (keys zeroed and masked:
                their cross-attention is exactly 0, and they get no ``memory.frames``). None = all
                conditional.

        Returns:
            (B, T, n_mels) epsilon, in the dtype of the weights.
        """
        b, length, _ = x_t.shape
        if length > self.position_table.shape[0]:
            raise ValueError(
                f"{length} frames exceed the position table ({self.position_table.shape[0]})")
        dtype = self.input_proj.weight.dtype
        emb = self.time_signal(t, self.position_table.shape[1], self.max_noise_time)
        emb = emb.to(self.time_embed[0].weight.dtype)  # float32 also in a reduced-precision model
        time_cond = self.time_embed(emb).to(dtype)[:, None, :]  # (B, 1, 4d)
        y = self.dropout(self.input_proj(x_t.to(dtype)) + self.position_table[:length])

        bm = memory.batch_size
        if b % bm:
            raise ValueError(f"batch {b} is not a multiple of the memory batch {bm}")
        rows = None
        index = None
        if conditional is not None and not bool(conditional.all()):
            rows = torch.nonzero(conditional, as_tuple=True)[0]
            index = rows % bm
        elif b != bm:
            index = torch.arange(b, device=x_t.device) % bm
        if index is not None and index.numel() == bm and torch.equal(
                index, torch.arange(bm, device=index.device)):
            index = None  # e.g. the conditional half of a [cond; uncond] batch: no gather
        gate, bias = memory.gate, memory.bias
        if index is not None:
            gate, bias = gate.index_select(0, index), bias.index_select(0, index)
        if memory.frames is not None:
            frames = memory.frames[:, :length].to(dtype)
            if index is not None:
                frames = frames.index_select(0, index)
            y = y + frames if rows is None else y.index_add(0, rows, frames)
        for i, layer in enumerate(self.layers):
            k, v = memory.keys[i], memory.values[i]
            if index is not None:
                k, v = k.index_select(0, index), v.index_select(0, index)
            y = layer(y, time_cond, k, v, bias, gate, rows)
        return self.output_proj(self.dropout(self.final_norm(y)))
