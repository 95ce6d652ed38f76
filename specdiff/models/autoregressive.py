"""The paper's autoregressive baseline: T5 encoder-decoder predicting the next log-mel frame (no Lightning).

Official ``models/autoregressive`` (model.md §7): the decoder input is the previous mel frame (zeros
for the first), projected by a bias-free Dense layer plus fixed non-permuted sinusoid positions; the
decoder self-attention is causal; there is no FiLM and no time embedding; the output is the next
frame of **raw (unscaled) natural-log mel**, trained with MSE. Inference feeds each output back,
256 steps per segment, with a key/value cache per layer. Unlike the official encoder, the notes
encoder here masks PAD keys (the official one attends to them; masking is the cleaner choice and
costs nothing).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from specdiff.models.config import ModelConfig
from specdiff.models.encoders import NotesEncoder
from specdiff.models.t5 import Attention, GatedMLP, attention_bias, make_norm, mask_value
from specdiff.models.weights import instantiate


def sinusoid_table(rows: int, dim: int, max_scale: float = 1e4) -> Tensor:
    """Fixed (non-permuted) T5X ``FixedEmbed`` sinusoids: [sin(p f_k) | cos(p f_k)].

    f_k = exp(-k ln(max_scale) / (dim/2 - 1)), k = 0..dim/2-1.

    Returns:
        (rows, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_scale) * torch.arange(half, dtype=torch.float64) / max(half - 1, 1))
    args = torch.arange(rows, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1).float()


class ARDecoderLayer(nn.Module):
    """Pre-norm T5 decoder layer: causal self-attention, cross-attention, gated-GELU MLP."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-6, scale_attention: bool = False, gelu_approximate: str = "tanh",
                 norm_type: str = "rms", bias: bool = False):
        super().__init__()
        self.self_attention_norm = make_norm(dim, eps, norm_type)
        self.self_attention = Attention(dim, num_heads, head_dim, scale_attention, dropout)
        self.cross_attention_norm = make_norm(dim, eps, norm_type)
        self.cross_attention = Attention(dim, num_heads, head_dim, scale_attention, dropout)
        self.mlp_norm = make_norm(dim, eps, norm_type)
        self.mlp = GatedMLP(dim, d_ff, dropout, gelu_approximate, bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, self_bias: Tensor, k: Tensor, v: Tensor, cross_bias: Tensor,
                cache: tuple[Tensor, Tensor, int] | None = None) -> Tensor:
        """One layer.

        Args:
            y: (B, T, d) decoder stream (T = 1 when decoding with a cache).
            self_bias: (1, 1, T, T) causal bias, or (1, 1, 1, n+1) over the cache when decoding.
            k, v: (B, H, Lk, Dh) projected encodings; cross_bias: (B, 1, 1, Lk).
            cache: (keys (B, H, T_max, Dh), values, n frames already cached); written in place.
        """
        h = self.self_attention_norm(y)
        att = self.self_attention
        if cache is None:
            h = att(h, bias=self_bias)
        else:
            keys, values, n = cache
            k_new, v_new = att.keys_values(h)  # (B, H, 1, Dh)
            keys[:, :, n : n + 1] = k_new
            values[:, :, n : n + 1] = v_new
            h = att.attend(h, keys[:, :, : n + 1], values[:, :, : n + 1], self_bias)
        y = y + self.dropout(h)
        h = self.cross_attention.attend(self.cross_attention_norm(y), k, v, cross_bias)
        y = y + self.dropout(h)
        return y + self.dropout(self.mlp(self.mlp_norm(y)))


class AutoregressiveModel(nn.Module):
    """Notes tokens -> log-mel, one frame at a time (the paper's "autoregressive" baseline).

    Uses the sizes of a `ModelConfig` (``has_context`` and ``max_noise_time`` are ignored: the
    baseline has no context encoder and no noise time). Spectrograms are **raw natural-log mel**,
    (B, T, n_mels), T = ``config.target_length`` (256 frames = 5.12 s).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        kw = dict(dim=c.d_model, num_heads=c.num_heads, head_dim=c.head_dim, d_ff=c.d_ff,
                  dropout=c.dropout, eps=c.norm_eps, scale_attention=c.scale_attention,
                  gelu_approximate=c.gelu_approximate, norm_type=c.norm_type, bias=c.bias)
        self.notes_encoder = NotesEncoder(c.vocab_size, c.max_tokens, num_layers=c.encoder_layers,
                                          mask_padding=c.mask_padding, **kw)
        self.input_proj = nn.Linear(c.n_mels, c.d_model, bias=c.bias)
        self.position_table = nn.Parameter(sinusoid_table(c.decoder_rows, c.d_model),
                                           requires_grad=False)
        self.layers = nn.ModuleList(ARDecoderLayer(**kw) for _ in range(c.decoder_layers))
        self.final_norm = make_norm(c.d_model, c.norm_eps, c.norm_type)
        self.output_proj = nn.Linear(c.d_model, c.n_mels, bias=c.bias)
        self.dropout = nn.Dropout(c.dropout)
        with torch.no_grad():  # official FixedEmbed: notes positions are fixed sinusoids too
            self.notes_encoder.position_table.copy_(sinusoid_table(c.max_tokens, c.d_model))

    @property
    def device(self) -> torch.device:
        return self.input_proj.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.input_proj.weight.dtype

    def _memory(self, tokens: Tensor) -> tuple[list[tuple[Tensor, Tensor]], Tensor]:
        from specdiff.models.spectrogram_diffusion import trim_padding

        enc, mask = self.notes_encoder(trim_padding(tokens.to(self.device)))
        kv = [layer.cross_attention.keys_values(enc) for layer in self.layers]
        return kv, attention_bias(mask, enc.dtype)

    @staticmethod
    def shift_right(mel: Tensor) -> Tensor:
        """Decoder inputs for teacher forcing: (B, T, C) -> previous frames, the first zeros."""
        return torch.cat([torch.zeros_like(mel[:, :1]), mel[:, :-1]], dim=1)

    def forward(self, tokens: Tensor, mel: Tensor) -> Tensor:
        """Teacher-forced prediction of every frame from the frames before it.

        Args:
            tokens: (B, L) int ids, 0 = PAD.
            mel: (B, T, n_mels) raw log-mel targets (shifted right inside).

        Returns:
            (B, T, n_mels) predicted log-mel (frame i sees target frames < i only).
        """
        kv, cross_bias = self._memory(tokens)
        x = self.shift_right(mel.to(self.device, self.dtype))
        length = x.shape[1]
        y = self.dropout(self.input_proj(x) + self.position_table[:length])
        causal = torch.ones(length, length, dtype=torch.bool, device=self.device).tril()
        self_bias = torch.zeros(length, length, dtype=y.dtype, device=self.device).masked_fill(
            ~causal, mask_value(y.dtype))[None, None]  # (1, 1, T, T)
        for layer, (k, v) in zip(self.layers, kv):
            y = layer(y, self_bias, k, v, cross_bias)
        return self.output_proj(self.dropout(self.final_norm(y))).float()

    @torch.no_grad()
    def generate(self, tokens: Tensor, context: Tensor | None = None,
                 frames: int | None = None) -> Tensor:
        """Generate one segment per row by feeding each predicted frame back (cached decoding).

        Args:
            tokens: (B, L) int token ids of each segment, 0 = PAD.
            context: ignored (the baseline has no context encoder); accepted so that synthesis can
                call every model the same way.
            frames: frames to generate (default ``config.target_length`` = 256).

        Returns:
            (B, frames, n_mels) float32 raw natural-log mel, on the model's device.
        """
        if self.config.ar_full_prefix:  # the port's AR model
            return port_ar_generate(self, tokens, frames, unscale=True)
        frames = self.config.target_length if frames is None else frames
        if frames > self.config.target_length:
            raise ValueError(f"{frames} frames exceed the position table ({self.config.target_length})")
        kv, cross_bias = self._memory(tokens)
        b, c = tokens.shape[0], self.config
        caches = [(torch.empty(b, c.num_heads, frames, c.head_dim, device=self.device, dtype=self.dtype),
                   torch.empty(b, c.num_heads, frames, c.head_dim, device=self.device, dtype=self.dtype))
                  for _ in self.layers]
        prev = torch.zeros(b, 1, c.n_mels, device=self.device, dtype=self.dtype)
        out = torch.empty(b, frames, c.n_mels, device=self.device, dtype=torch.float32)
        for i in range(frames):
            y = self.dropout(self.input_proj(prev) + self.position_table[i : i + 1])
            self_bias = torch.zeros(1, 1, 1, i + 1, device=self.device, dtype=y.dtype)
            for layer, (k, v), (ck, cv) in zip(self.layers, kv, caches):
                y = layer(y, self_bias, k, v, cross_bias, cache=(ck, cv, i))
            frame = self.output_proj(self.dropout(self.final_norm(y)))  # (B, 1, n_mels)
            out[:, i : i + 1] = frame.float()
            prev = frame
        return out

    # ------------------------------------------------------------------ our checkpoint format
    def save_pretrained(self, path: str | Path) -> Path:
        """One ``.safetensors`` file, metadata ``format=specdiff, kind=autoregressive`` + JSON config."""
        from specdiff.checkpoints import AUTOREGRESSIVE, Checkpoint, write_specdiff

        return write_specdiff(Checkpoint(AUTOREGRESSIVE, self.config, self.state_dict()), path)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device | None = None
                        ) -> AutoregressiveModel:
        """Load an autoregressive checkpoint (ours or the port's); returns it in eval mode."""
        from specdiff.checkpoints import AUTOREGRESSIVE, read_checkpoint

        model = instantiate(cls, read_checkpoint(path), AUTOREGRESSIVE)
        return model.to(device) if device is not None else model


@torch.no_grad()
def port_ar_generate(model: AutoregressiveModel, tokens: Tensor, frames: int | None = None,
                     unscale: bool = False) -> Tensor:
    """The port's autoregressive inference (no dither).

    Starting from one all-zero frame, step i runs the decoder over the whole prefix
    ``input_proj(frames 0..i) + positions 0..i`` **without** a causal mask (unlike training),
    takes the last position's output, clamps it to [-1, 1] and appends it. With two or more
    decoder layers this differs from a causal loop; it is what the port's released model does.

    Args:
        model: an `AutoregressiveModel` with the port's config.
        tokens: (B, L) token ids.
        frames: frames to generate (default ``config.target_length`` = 256).
        unscale: return natural-log mel (the model's scaler inverted) instead of scaled frames.

    Returns:
        (B, frames, n_mels) float32: scaled [-1, 1] frames, or log-mel with ``unscale``.
    """
    c = model.config
    frames = c.target_length if frames is None else frames
    if frames + 1 > model.position_table.shape[0]:
        raise ValueError(f"{frames} frames exceed the position table "
                         f"({model.position_table.shape[0]} rows, one for the start frame)")
    kv, cross_bias = model._memory(tokens)
    seq = torch.zeros(tokens.shape[0], 1, c.n_mels, device=model.device, dtype=model.dtype)
    for i in range(frames):
        y = model.input_proj(seq) + model.position_table[: i + 1]  # (B, i+1, d)
        for layer, (k, v) in zip(model.layers, kv):
            y = layer(y, None, k, v, cross_bias)
        frame = model.output_proj(model.final_norm(y[:, -1:])).clamp(-1.0, 1.0)  # (B, 1, n_mels)
        seq = torch.cat([seq, frame], dim=1)
    out = seq[:, 1:].float()
    if unscale:
        lo, hi = torch.tensor(c.scaler_min), torch.tensor(c.scaler_max)
        out = (out + 1) / 2 * (hi - lo).to(out.device) + lo.to(out.device)
    return out
