"""The spectrogram diffusion model: notes encoder, optional context encoder, FiLM decoder."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from specdiff.diffusion.schedule import alpha_sigma, logsnr_cosine
from specdiff.models.config import ModelConfig
from specdiff.models.decoder import Conditioning, CrossMemory, FilmDecoder
from specdiff.models.encoders import ContextEncoder, NotesEncoder
from specdiff.models.note_roll import note_roll, roll_features
from specdiff.models.weights import instantiate

#: ``fn(x_t (B, T, n_mels), t (B,), conditional (B,) bool | None) -> eps (B, T, n_mels) float32``
ConditionalModelFn = Callable[..., Tensor]


def layer_kwargs(c: ModelConfig) -> dict[str, Any]:
    """The keyword arguments every layer stack takes from a `ModelConfig` (sizes and numerics)."""
    return dict(dim=c.d_model, num_heads=c.num_heads, head_dim=c.head_dim, d_ff=c.d_ff,
                dropout=c.dropout, eps=c.norm_eps, scale_attention=c.scale_attention,
                gelu_approximate=c.gelu_approximate, norm_type=c.norm_type, bias=c.bias)


_layer_kwargs = layer_kwargs


def trim_padding(tokens: Tensor) -> Tensor:
    """Drop the trailing columns that are PAD (0) in every row; keeps at least one column.

    Args:
        tokens: (B, L) int ids.

    Returns:
        (B, L') with L' = 1 + the last column holding a non-PAD id anywhere in the batch.
    """
    used = torch.nonzero((tokens > 0).any(dim=0))
    length = int(used.max()) + 1 if used.numel() else 1
    return tokens[:, :length]


class SpectrogramDiffusion(nn.Module):
    """MIDI-token-conditioned spectrogram denoiser (Hawthorne et al., 2022).

    Spectrograms live in the scaled space [-1, 1] (see ``specdiff.audio``), shaped (B, T, n_mels)
    with T = 256 frames (5.12 s) per segment.

    Attributes:
        config: the `ModelConfig`.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        kw = _layer_kwargs(config)
        self.notes_encoder = NotesEncoder(config.vocab_size, config.max_tokens,
                                          num_layers=config.encoder_layers,
                                          mask_padding=config.mask_padding, **kw)
        self.context_encoder = (
            ContextEncoder(config.n_mels, config.context_length, num_layers=config.encoder_layers,
                           shared_input=config.shared_context_input, **kw)
            if config.has_context else None)
        self.decoder = FilmDecoder(config.n_mels, config.decoder_rows, config.max_noise_time,
                                   num_layers=config.decoder_layers,
                                   time_signal=config.time_signal, **kw)
        # note_roll models: the roll's projection onto the decoder input (no bias: an empty roll,
        # e.g. an unconditional row, adds exactly nothing)
        self.roll_proj = (nn.Linear(roll_features(config.note_roll_gaps), config.d_model, bias=False)
                          if config.note_roll else None)

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_pretrained(cls, source: str | Path, *, device: str | torch.device | None = None,
                        dtype: torch.dtype | None = None, local_files_only: bool = False,
                        config: Any = None) -> SpectrogramDiffusion:
        """Load the network alone (for synthesis with its settings, `specdiff.Synthesizer`).

        Args:
            source: anything `specdiff.checkpoints.read_checkpoint` reads: our ``.safetensors``
                file or bundle folder, a directory in the layout of
                ``google/music-spectrogram-diffusion``, a hub id (downloaded with huggingface_hub
                unless ``local_files_only``), or the port's ``.ckpt`` (read with
                ``weights_only=True``).
            device, dtype: where and in which float dtype to put the weights.
            config: for a port ``.ckpt`` only: the run's LightningCLI ``config.yaml`` (path), its
                ``model.init_args`` (dict) or a `ModelConfig`. None infers the sizes from the
                tensors with head width 64 (as every published port config).

        Returns:
            The model in eval mode.
        """
        from specdiff.checkpoints import DIFFUSION, read_checkpoint

        checkpoint = read_checkpoint(source, local_files_only=local_files_only,
                                     port_config=config)
        model = instantiate(cls, checkpoint, DIFFUSION)
        if device is not None or dtype is not None:
            model = model.to(device=device, dtype=dtype)
        return model

    def save_pretrained(self, path: str | Path) -> Path:
        """Write one ``.safetensors`` file, JSON config in its metadata; returns the path."""
        from specdiff.checkpoints import DIFFUSION, Checkpoint, write_specdiff

        return write_specdiff(Checkpoint(DIFFUSION, self.config, self.state_dict()), path)

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.input_proj.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.decoder.input_proj.weight.device

    # ------------------------------------------------------------------ the model
    def encode(self, tokens: Tensor, context: Tensor | None = None,
               context_mask: Tensor | None = None, trim: bool = True) -> Conditioning:
        """Encode one segment's tokens and the previous segment's spectrogram.

        Args:
            tokens: (B, L) int token ids, 0 = PAD (masked).
            context: (B, T_c, n_mels) previous segment in the scaled [-1, 1] space, or None:
                then the context is masked out, as for the official first segment, or (config
                ``first_context="silence"``, the port) the scaled log-mel of silence,
                `silence_context`. Ignored by models without a context encoder.
            context_mask: (B, T_c) bool frame mask of ``context`` (default all True).
            trim: drop what attention never sees: trailing PAD columns of ``tokens`` and a fully
                masked context. The decoder output is unchanged; with ``trim=False`` the keys
                have the full reference layout (L + T_c). A model that attends to padding
                (``mask_padding=False``, the port) then sees the batch padded to its longest row,
                as the port's collate pads.

        Returns:
            A `Conditioning`: keys (B, L' [+ T_c], d) in the weights' dtype, notes first, then
            context, their mask, and for a ``note_roll`` model the projected roll of each of the
            ``target_length`` frames (B, T, d), which the decoder adds to its input.
        """
        if trim:
            tokens = trim_padding(tokens)
        keys, mask = self._encode(tokens, context, context_mask, trim)
        if not self.config.note_roll:
            return Conditioning(keys, mask)
        roll = note_roll(tokens, self.config.target_length, self.config.token_codec,
                         self.config.note_roll_gaps)
        return Conditioning(keys, mask, self.roll_proj(roll.to(self.device, self.dtype)))

    def _encode(self, tokens: Tensor, context: Tensor | None, context_mask: Tensor | None,
                trim: bool) -> tuple[Tensor, Tensor]:
        """Notes [+ context] encodings of `encode` (``tokens`` already trimmed if ``trim``)."""
        enc, mask = self.notes_encoder(tokens.to(self.device))
        if self.context_encoder is None:
            return enc, mask
        b = tokens.shape[0]
        if context is None and self.config.first_context == "silence":
            context = self.silence_context(b)
        if context is None:
            if trim:
                return enc, mask
            context = torch.zeros(b, self.config.context_length, self.config.n_mels)
            context_mask = torch.zeros(b, self.config.context_length, dtype=torch.bool)
        elif context_mask is None:
            context_mask = torch.ones(context.shape[:2], dtype=torch.bool)
        context_mask = context_mask.to(self.device).bool()
        if trim and not bool(context_mask.any()):
            return enc, mask
        shared = {}
        if self.config.shared_context_input:  # the port: the decoder's projection and positions
            shared = dict(input_proj=self.decoder.input_proj,
                          position_table=self.decoder.position_table)
        ctx, ctx_mask = self.context_encoder(context.to(self.device, self.dtype), context_mask,
                                             **shared)
        return torch.cat([enc, ctx], dim=1), torch.cat([mask, ctx_mask], dim=1)

    def silence_context(self, batch: int = 1) -> Tensor:
        """The port's first-segment context: log-mel of 81 920 zero samples, scaled.

        Silence gives ln(1e-5) in every bin of every one of the ``context_length`` frames (257 for
        the port); scaled with the model's scaler (config ``scaler_min``/``scaler_max``).

        Returns:
            (batch, context_length, n_mels) float32 on the model's device.
        """
        c = self.config
        silence = torch.full((batch, c.context_length, c.n_mels), math.log(1e-5),
                             dtype=torch.float32, device=self.device)
        return self.scale(silence)

    def scale(self, mel: Tensor) -> Tensor:
        """Natural-log mel (any shape) -> the model's [-1, 1] space, with its stored scaler.

        x = (m - min) / (max - min) * 2 - 1 in float32 (clipped to [min, max] first if the
        config says ``scaler_clip``, as the official scaler does).
        """
        c = self.config
        lo, hi = torch.tensor(c.scaler_min), torch.tensor(c.scaler_max)  # float32 like the port
        mel = mel.float()
        if c.scaler_clip:
            mel = mel.clamp(float(lo), float(hi))
        return (mel - lo.to(mel.device)) / (hi - lo).to(mel.device) * 2 - 1

    def unscale(self, x: Tensor) -> Tensor:
        """Inverse of `scale` (no clipping): m = (x + 1) / 2 * (max - min) + min, float32."""
        c = self.config
        lo, hi = torch.tensor(c.scaler_min), torch.tensor(c.scaler_max)
        return (x.float() + 1) / 2 * (hi - lo).to(x.device) + lo.to(x.device)

    def memory(self, conditioning: Conditioning) -> CrossMemory:
        """Project the keys into every layer's cross-attention K/V, once per segment."""
        c = conditioning
        frames = None if c.frames is None else c.frames.to(self.device, self.dtype)
        return self.decoder.memory(c.keys.to(self.device, self.dtype), c.mask.to(self.device),
                                   frames)

    def predict(self, x_t: Tensor, t: Tensor, conditioning: Conditioning | CrossMemory,
                conditional: Tensor | None = None) -> Tensor:
        """The decoder's raw output: epsilon, or v for ``config.prediction == "v"``.

        Args:
            x_t: (B, T, n_mels) noisy spectrogram, scaled space.
            t: (B,) continuous noise time in [0, 1] (0 = clean); a scalar is broadcast.
            conditioning: from `encode`, or its `CrossMemory` from `memory`.
            conditional: (B,) bool, False = unconditional row (cross-attention contributes
                nothing, as with zeroed keys and masks, and no note roll). None = all conditional.

        Returns:
            (B, T, n_mels) float32.
        """
        memory = (conditioning if isinstance(conditioning, CrossMemory)
                  else self.memory(conditioning))
        x = x_t.to(self.device, self.dtype)
        t = torch.as_tensor(t, dtype=torch.float32, device=self.device).expand(x.shape[0])
        rows = None if conditional is None else conditional.to(self.device)
        return self.decoder(x, t, memory, rows).float()

    def predict_eps(self, x_t: Tensor, t: Tensor, conditioning: Conditioning | CrossMemory,
                    conditional: Tensor | None = None) -> Tensor:
        """Predict the noise: `predict`, converted from v (eps = sigma_t x_t + alpha_t v) for
        v-prediction models. Arguments as `predict`; returns (B, T, n_mels) float32 epsilon."""
        out = self.predict(x_t, t, conditioning, conditional)
        if self.config.prediction == "epsilon":
            return out
        t = torch.as_tensor(t, dtype=torch.float32, device=out.device).expand(out.shape[0])
        alpha, sigma = (v.float()[:, None, None] for v in alpha_sigma(logsnr_cosine(t)))
        return sigma * x_t.to(out.device, torch.float32) + alpha * out

    def eps_fn(self, conditioning: Conditioning) -> ConditionalModelFn:
        """A model function for the samplers with the cross-attention K/V computed once.

        Returns:
            ``fn(x_t, t, conditional=None) -> eps`` as `predict_eps`; wrap it in
            ``specdiff.diffusion.cfg`` for guidance. Batches may be any multiple of the
            conditioning's batch (row i uses its row i % B).
        """
        memory = self.memory(conditioning)

        def fn(x_t: Tensor, t: Tensor, conditional: Tensor | None = None) -> Tensor:
            return self.predict_eps(x_t, t, memory, conditional)

        return fn
