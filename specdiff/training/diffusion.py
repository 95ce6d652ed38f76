"""The diffusion LightningModule: the paper's training recipe around `SpectrogramDiffusion`."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from specdiff.diffusion import cfg, diffusion_inputs, prediction_loss, sample, v_target
from specdiff.models import SpectrogramDiffusion, model_config
from specdiff.training.base import EVAL_OPTIONS, SynthesisModule
from specdiff.training.ema import ema_copy
from specdiff.training.guided import capture_cross_attention_queries, guided_attention_loss
from specdiff.training.init import init_weights, time_aligned_shifts
from specdiff.training.optim import EmaOptimization, OptimizerName


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the random draws (t, noise, condition drop, dropout) of one training step."""
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63 - 1)


def drop_conditions(batch: dict[str, Tensor], drop: Tensor) -> dict[str, Tensor]:
    """Official classifier-free-guidance drop: dropped rows get all-PAD tokens and a zero context mask.

    Args:
        batch: with ``tokens`` (B, L) and optionally ``context_mask`` (B, T_c).
        drop: (B,) bool rows to drop.
    """
    out = dict(batch)
    out["tokens"] = batch["tokens"].masked_fill(drop[:, None], 0)
    if "context_mask" in batch:
        out["context_mask"] = batch["context_mask"].bool() & ~drop[:, None]
    return out


class DiffusionModule(EmaOptimization, SynthesisModule):
    """Trains a `SpectrogramDiffusion` as the official code does.

    Per example: t ~ U[0, 1) on the continuous cosine log-SNR schedule, z_t = alpha_t x0 + sigma_t eps,
    the network predicts eps (or v = alpha_t eps - sigma_t x0 with ``model_overrides:
    {prediction: v}``), L1 loss (or L2, ``loss``); with probability ``cond_drop_prob`` the example's tokens
    become PAD and its context mask 0 (classifier-free guidance). An EMA of the weights is kept
    (``self.ema``); it generates at validation/test and is what `specdiff export` writes.

    Args:
        size: model ladder entry (``tiny``, ``small``, ``base``, ``large``).
        has_context: the "with context" model (context encoder over the previous 256 frames).
        model_overrides: further `ModelConfig` fields (e.g. ``{dropout: 0.0}``).
        optimizer: ``adafactor`` (paper) or ``adamw``; lr: constant learning rate (1e-3);
        weight_decay; warmup_steps: linear warmup (0 = the paper's constant rate).
        ema_decay: EMA decay (with the usual (1 + n) / (10 + n) warmup).
        cond_drop_prob: condition dropout probability (0.1).
        loss: ``l1`` (official) or ``l2`` (`specdiff.diffusion.prediction_loss`: its optimum
            moves with partial information from the conditioning, L1's does not).
        guided_attention: weight of the training-only guided cross-attention loss
            (`specdiff.training.guided`: head 0 of the first decoder layer is shown which tokens
            happen at its frame); 0 = off (official). guided_attention_width: its width, frames.
        loss_reduction: ``mean`` (per element; keeps gradient clipping meaningful) or ``sum``
            (the official sum); the logged ``train/loss`` is always the per-element mean.
        seed: seeds the per-step random draws (exact resume, distinct per process) and generation.
        init_seed: seeds the from-scratch initialisation (identical on every process).
        init_from: start from these exported weights instead (a specdiff .safetensors, e.g. the
            shipped model, to continue its training on a machine without the Lightning
            checkpoint: the weights and EMA start there, the optimizer and step count anew).
        shift_init: ``random`` (T5X: every embedding row N(0, 1)) or ``time``: the shift tokens'
            embeddings start as the decoder's position rows of their frames
            (`specdiff.training.init.time_aligned_shifts`), a prior that speeds up learning
            which frames a note belongs to when combined with ``guided_attention`` (measured
            in `time_aligned_shifts`' docstring).
            Applied after ``init_from`` too (it then replaces the loaded shift rows).
        logsnr_shift: train more at high noise (< 0) by drawing t at log-SNR offset by this much
            (`specdiff.diffusion.diffusion_inputs`); 0 = the official uniform t. Sampling and
            the validation loss (uniform t: comparable across runs with the same ``loss``) are
            unchanged.
        sampler, sampler_steps, guidance: how validation/test generate (``specdiff.diffusion``).
        The rest: see `SynthesisModule`.
    """

    def __init__(self, size: str = "small", has_context: bool = True,
                 model_overrides: dict[str, Any] | None = None,
                 optimizer: OptimizerName = "adafactor", lr: float = 1e-3, weight_decay: float = 0.0,
                 warmup_steps: int = 0, ema_decay: float = 0.9999, cond_drop_prob: float = 0.1,
                 loss_reduction: Literal["mean", "sum"] = "mean", seed: int = 0, init_seed: int = 0,
                 sampler: str = "dpmpp_2m", sampler_steps: int | None = 20, guidance: float = 2.0,
                 num_logged: int = 2, log_audio: bool = True, vocoder: str = "griffin-lim",
                 test_audio_dir: str | None = None, init_from: str | None = None,
                 shift_init: Literal["random", "time"] = "random", logsnr_shift: float = 0.0,
                 loss: Literal["l1", "l2"] = "l1", guided_attention: float = 0.0,
                 guided_attention_width: float = 8.0):
        super().__init__(num_logged, log_audio, vocoder, test_audio_dir, seed)
        self.save_hyperparameters(ignore=EVAL_OPTIONS)
        config = model_config(size, has_context=has_context, **(model_overrides or {}))
        # Adafactor's steps are relative to the parameter's RMS: no zero-initialised matrices there
        self.model = init_weights(SpectrogramDiffusion(config), init_seed,
                                  zero_output=optimizer == "adamw")
        if init_from is not None:
            self._load_initial_weights(init_from)
        if shift_init == "time":
            time_aligned_shifts(self.model)
        elif shift_init != "random":
            raise ValueError(f"shift_init must be 'random' or 'time', got {shift_init!r}")
        self.ema = ema_copy(self.model)

    def _load_initial_weights(self, source: str) -> None:
        """Start from exported weights (e.g. the shipped model): same sizes and numerics required.

        A ``note_roll`` model may start from weights without the roll, and a ``note_roll_gaps``
        one from a roll without the gap features: the projection's new inputs then start at
        zero (all of it without a roll), so training begins from exactly the loaded model.
        """
        from specdiff.errors import SpecdiffError

        start = SpectrogramDiffusion.from_pretrained(source)
        theirs, ours = start.config.to_dict(), self.model.config.to_dict()
        grows = {k for k in ("note_roll", "note_roll_gaps") if ours[k] and not theirs.get(k)}
        differ = sorted(k for k in ours
                        if k not in grows | {"dropout"} and theirs.get(k) != ours[k])
        if differ:
            raise SpecdiffError(f"{source}: its config differs from the model's in {differ}")
        state = {k: v.float() for k, v in start.state_dict().items()}
        old_roll = state.pop("roll_proj.weight", None) if grows else None
        self.model.load_state_dict(state, strict=not grows)
        if grows:
            with torch.no_grad():
                weight = self.model.roll_proj.weight  # (d, features)
                weight.zero_()
                if old_roll is not None:
                    weight[:, : old_roll.shape[1]] = old_roll

    @property
    def config(self):
        return self.model.config

    # -- training -------------------------------------------------------------------------------
    def loss(self, model: SpectrogramDiffusion, batch: dict[str, Tensor],
             generator: torch.Generator | None = None, drop_prob: float = 0.0,
             logsnr_shift: float = 0.0, guided_attention: float = 0.0) -> Tensor:
        """The loss of one batch: L1 (or L2, ``loss``) of the eps (or v) prediction, per element
        mean, plus ``guided_attention`` x the guided cross-attention loss. t, eps and the drop
        come from ``generator`` (or the global RNG); t as `diffusion_inputs` draws it."""
        x0 = batch["target"].float()
        b = x0.shape[0]
        if drop_prob > 0:
            u = torch.rand(b, generator=generator, device=x0.device)
            batch = drop_conditions(batch, u < drop_prob)
        x_t, t, eps = diffusion_inputs(x0, generator, logsnr_shift)
        conditioning = model.encode(batch["tokens"], batch.get("context"),
                                    batch.get("context_mask"))
        target = eps if model.config.prediction == "epsilon" else v_target(x0, t, eps)
        if guided_attention <= 0:
            pred = model.predict(x_t, t, conditioning)
            return prediction_loss(pred, target, reduction="mean", kind=self.hparams.loss)
        memory = model.memory(conditioning)  # the guide reuses the first layer's keys
        with capture_cross_attention_queries(model) as captured:
            pred = model.predict(x_t, t, memory)
        guide = guided_attention_loss(model, captured["queries"], memory, conditioning.mask,
                                      batch["tokens"], self.hparams.guided_attention_width)
        if self._trainer is not None:  # also used outside a Trainer (scripts/conditioning_toy.py)
            self.log("train/guide", guide, batch_size=b)
        return prediction_loss(pred, target, reduction="mean", kind=self.hparams.loss) \
            + guided_attention * guide

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            # Every draw of this step (t, eps, drop, dropout masks) follows from (seed, step, rank).
            torch.manual_seed(step_seed(self.seed, self.global_step, self.global_rank))
            loss = self.loss(self.model, batch, drop_prob=self.hparams.cond_drop_prob,
                             logsnr_shift=self.hparams.logsnr_shift,
                             guided_attention=self.hparams.guided_attention)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["target"].shape[0])
        if self.hparams.loss_reduction == "sum":
            return loss * batch["target"].numel()
        return loss

    # -- evaluation -----------------------------------------------------------------------------
    def eval_loss(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.loss(self.ema, batch, self._generator(batch_idx))

    @torch.no_grad()
    def generate(self, batch: dict[str, Tensor], generator: torch.Generator) -> Tensor:
        """Sample each row's spectrogram (B, T, n_mels), scaled space, with the EMA weights, given
        its tokens and (with context) its ground-truth context (teacher-forced)."""
        model = self.ema
        with torch.autocast(self.device.type, enabled=False):
            conditioning = model.encode(batch["tokens"], batch.get("context"),
                                        batch.get("context_mask"))
            fn = cfg(model.eps_fn(conditioning), self.hparams.guidance)
            shape = (batch["tokens"].shape[0], self.config.target_length, self.config.n_mels)
            return sample(fn, shape, self.hparams.sampler, self.hparams.sampler_steps,
                          generator=generator, device=self.device)

    def export_model(self) -> SpectrogramDiffusion:
        """The EMA model (what `specdiff export` saves)."""
        return self.ema
