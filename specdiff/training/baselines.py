"""LightningModules of the two baselines: the autoregressive model and the ground truth encoded."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from specdiff.audio import scale_mel, unscale_mel
from specdiff.models import model_config
from specdiff.models.autoregressive import AutoregressiveModel
from specdiff.training.base import EVAL_OPTIONS, SynthesisModule
from specdiff.training.diffusion import step_seed
from specdiff.training.ema import ema_copy
from specdiff.training.init import init_weights
from specdiff.training.optim import EmaOptimization, OptimizerName


def frame_mse(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Official ``Deterministic`` loss: squared error averaged over the mel bins, then summed over
    batch and time (``sum``) or averaged over them (``mean``). pred, target: (B, T, n_mels)."""
    per_frame = (pred.float() - target.float()).pow(2).mean(dim=-1)  # (B, T)
    return per_frame.sum() if reduction == "sum" else per_frame.mean()


class AutoregressiveModule(EmaOptimization, SynthesisModule):
    """Trains the autoregressive baseline (teacher forcing, MSE on raw log-mel) with an EMA.

    Args:
        size, model_overrides: model ladder entry and `ModelConfig` overrides (no context).
        optimizer, lr, weight_decay, warmup_steps, ema_decay, seed, init_seed: as `DiffusionModule`.
        loss_reduction: ``mean`` over frames, or the official ``sum``; ``train/loss`` logs the mean.
        The rest: see `SynthesisModule`.
    """

    def __init__(self, size: str = "small", model_overrides: dict[str, Any] | None = None,
                 optimizer: OptimizerName = "adafactor", lr: float = 1e-3, weight_decay: float = 0.0,
                 warmup_steps: int = 0, ema_decay: float = 0.9999,
                 loss_reduction: Literal["mean", "sum"] = "mean", seed: int = 0, init_seed: int = 0,
                 num_logged: int = 2, log_audio: bool = True, vocoder: str = "griffin-lim",
                 test_audio_dir: str | None = None):
        super().__init__(num_logged, log_audio, vocoder, test_audio_dir, seed)
        self.save_hyperparameters(ignore=EVAL_OPTIONS)
        config = model_config(size, has_context=False, **(model_overrides or {}))
        self.model = init_weights(AutoregressiveModel(config), init_seed)
        self.ema = ema_copy(self.model)

    @property
    def config(self):
        return self.model.config

    def loss(self, model: AutoregressiveModel, batch: dict[str, Tensor]) -> Tensor:
        target = unscale_mel(batch["target"].float())  # raw natural-log mel
        return frame_mse(model(batch["tokens"], target), target)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(step_seed(self.seed, self.global_step, self.global_rank))  # dropout
            loss = self.loss(self.model, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["target"].shape[0])
        if self.hparams.loss_reduction == "sum":
            return loss * batch["target"].shape[0] * batch["target"].shape[1]
        return loss

    def eval_loss(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.loss(self.ema, batch)

    @torch.no_grad()
    def generate(self, batch: dict[str, Tensor], generator: torch.Generator) -> Tensor:
        """Cached frame-by-frame decoding with the EMA weights -> (B, T, n_mels), scaled space."""
        with torch.autocast(self.device.type, enabled=False):
            return scale_mel(self.ema.generate(batch["tokens"]))

    def export_model(self) -> AutoregressiveModel:
        return self.ema


class GroundTruthModule(SynthesisModule):
    """The "ground truth encoded" system: the true spectrogram itself, through the vocoder.

    Nothing is trained; ``specdiff test`` with it scores the vocoder's ceiling (mel L1 = 0 by
    construction) and, with ``test_audio_dir``, writes the vocoded ground truth for evaluation.
    """

    def __init__(self, num_logged: int = 2, log_audio: bool = True, vocoder: str = "griffin-lim",
                 test_audio_dir: str | None = None, seed: int = 0):
        super().__init__(num_logged, log_audio, vocoder, test_audio_dir, seed)
        self.save_hyperparameters(ignore=EVAL_OPTIONS)

    def generate(self, batch: dict[str, Tensor], generator: torch.Generator) -> Tensor:
        return batch["target"].float()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        raise RuntimeError("the ground-truth-encoded baseline has nothing to train: use `specdiff test`")

    def configure_optimizers(self) -> None:
        return None


def ground_truth_encoded(audio: Tensor, vocoder: str = "griffin-lim") -> Tensor:
    """Re-synthesise audio through its own log-mel: ``vocoder(log_mel(audio))``.

    Args:
        audio: (n,) or (B, n) float samples at 16 kHz.

    Returns:
        Audio of the same leading shape, ``ceil(n / 320) * 320`` samples.
    """
    from specdiff.audio import log_mel
    from specdiff.vocoders import load_vocoder

    return load_vocoder(vocoder)(log_mel(torch.as_tensor(audio).float()))
