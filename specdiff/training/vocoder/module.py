"""The vocoder LightningModule: a ``VocosNet`` trained on reconstruction, phase and, with
discriminators, adversarial losses."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from specdiff.errors import SpecdiffError
from specdiff.training.discriminators import (
    DiscriminatorConfig,
    Discriminators,
    discriminator_loss,
    generator_terms,
)
from specdiff.training.vocoder.losses import audio_phase_loss, mel_loss, phase_loss, stft_loss
from specdiff.vocoders.griffin_lim import GriffinLim, refine_phase
from specdiff.vocoders.neural import NeuralVocoderConfig, VocosNet, read_neural_vocoder

#: the default network: NeuralVocoderConfig's defaults (configs/vocoder.yaml's size, frame phase)
DEFAULT_NET = NeuralVocoderConfig()


def lr_factor(step: int, warmup_steps: int, decay_steps: int) -> float:
    """The learning rate of optimizer step ``step`` (from 0) as a fraction of the peak: linear
    warm-up over ``warmup_steps``, then cosine decay to 0.1 at ``decay_steps``, then 0.1."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, decay_steps - warmup_steps))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def generate(net: VocosNet, mel: Tensor, refine_iterations: int = 0) -> tuple[Tensor, Tensor]:
    """(B, T, 128) log-mel -> the network's (B, F, T + 2) STFT frames and the (B, T * 320) audio
    after ``refine_iterations`` steps of ``refine_phase``. The network runs under any autocast
    in effect, the inverse STFT and the refinement in float32."""
    spec, _ = net.spectrum(mel)
    with torch.autocast(mel.device.type, enabled=False):
        audio = net.istft(spec, mel.shape[1])
        if refine_iterations:
            audio = refine_phase(audio, mel.float(), refine_iterations)
    return spec, audio


def transfer_weights(source: VocosNet, target: VocosNet) -> int:
    """Copy ``source``'s weights into ``target``; returns how many tensors were copied whole.

    The networks may differ in their kind of phase: then everything but the head is copied,
    and the head's log-magnitude rows (the first ``n_fft // 2 + 1``), so a recurrent-phase
    vocoder starts from a trained frame-phase one with its magnitudes already learned.
    """
    state, mine = source.state_dict(), target.state_dict()
    copied = 0
    with torch.no_grad():
        for name, value in mine.items():
            if state[name].shape == value.shape:
                value.copy_(state[name])
                copied += 1
            elif name in ("head.weight", "head.bias"):
                bins = target.config.n_fft // 2 + 1
                value[:bins].copy_(state[name][:bins])
    return copied


def start_from(net: VocosNet, path: str | Path) -> int:
    """``transfer_weights`` from the vocoder file at ``path`` (its config may differ from
    ``net``'s in the kind of phase only); returns the tensors copied whole."""
    source, _ = read_neural_vocoder(path)
    if replace(source.config, phase=net.config.phase) != net.config:
        raise SpecdiffError(f"{path}: its vocoder config {source.config} differs from the "
                            f"model's {net.config} (other than in the phase)")
    return transfer_weights(source, net)


class VocoderModule(pl.LightningModule):
    """Trains specdiff's neural vocoder (``VocosNet``) on (mel (B, T, 128), audio (B, T * 320))
    batches (``VocoderDataModule``).

    Loss: ``mel_weight`` x L1 between the official log-mels of output and target, plus
    ``stft_weight`` x the multi-resolution STFT loss, plus the phase-difference losses
    (``phase_weight`` on the network's frames, ``audio_phase_weight`` on its audio) and, with
    ``discriminator`` set, ``adversarial_weight`` x the hinge and ``feature_weight`` x the
    feature-matching losses of discriminators trained alongside (each step: a discriminator
    update, then the generator's on the updated discriminators). AdamW for both, clipped
    generator gradients, one learning-rate schedule (``lr_factor``). The networks run under
    the trainer's precision, the losses' spectral arithmetic in float32. Validation logs
    ``val/mel_l1`` and ``val/mrstft`` (the benchmark's resolutions) and, once per run, the same
    scores of Griffin-Lim (``val/griffin_lim_*``), the bar to clear.

    Args:
        net: the generator's architecture.
        lr, betas, weight_decay: its AdamW settings (``lr`` the peak learning rate).
        warmup_steps, decay_steps: the schedule (``lr_factor``); ``decay_steps`` is where the
            cosine ends, independent of ``trainer.max_steps``.
        mel_weight, stft_weight, phase_weight, audio_phase_weight: loss weights.
        audio_phase_resolution: (n_fft, hop, window) of ``audio_phase_loss``.
        stft_resolutions: (n_fft, hop, window) of the training STFT loss.
        refine_iterations: the losses (and validation) judge the audio after this many
            ``refine_phase`` steps (0: the network's own audio).
        discriminator: the discriminators (None: no adversarial training).
        adversarial_weight, feature_weight: the generator's weights on their losses.
        disc_lr: the discriminators' peak learning rate (None: ``lr``).
        adversarial_start: the step from which the generator uses them (they train from step 0,
            so the generator meets informed critics).
        grad_clip: the generator's gradient norm is clipped to this.
        init: a vocoder ``.safetensors`` to start from (``start_from``): weights only, the step
            and optimizer start afresh. A resume (``--ckpt_path``) then loads over it.
    """

    def __init__(self, net: NeuralVocoderConfig = DEFAULT_NET, lr: float = 5e-4,
                 betas: tuple[float, float] = (0.8, 0.9), weight_decay: float = 0.01,
                 warmup_steps: int = 500, decay_steps: int = 200_000, mel_weight: float = 1.0,
                 stft_weight: float = 1.0, phase_weight: float = 0.0,
                 audio_phase_weight: float = 0.0,
                 audio_phase_resolution: tuple[int, int, int] = (1024, 80, 640),
                 stft_resolutions: tuple[tuple[int, int, int], ...] = (
                     (512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)),
                 refine_iterations: int = 0, discriminator: DiscriminatorConfig | None = None,
                 adversarial_weight: float = 0.0, feature_weight: float = 0.0,
                 disc_lr: float | None = None, adversarial_start: int = 0,
                 grad_clip: float = 10.0, init: str | None = None):
        super().__init__()
        if discriminator is None and (adversarial_weight or feature_weight):
            raise ValueError("adversarial_weight and feature_weight need a discriminator")
        self.save_hyperparameters()
        # plain dicts in the checkpoint: it is read with weights_only=True
        self.hparams.net = asdict(net)
        self.hparams.discriminator = None if discriminator is None else asdict(discriminator)
        self.automatic_optimization = False
        self.net = VocosNet(net)
        self.discriminators = None if discriminator is None else Discriminators(discriminator)
        if init is not None:
            copied = start_from(self.net, init)
            rank_zero_info(f"vocoder initialised from {init} "
                           f"({copied} of {len(self.net.state_dict())} tensors whole)")
        self._baseline_pending = True

    def on_fit_start(self) -> None:
        # The checkpoint of step k holds the weights after step k: what a resume needs.
        warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")

    def configure_optimizers(self):
        h = self.hparams
        nets = [self.net] if self.discriminators is None else [self.net, self.discriminators]
        rates = [h.lr, h.disc_lr or h.lr]
        optimizers = [torch.optim.AdamW(n.parameters(), lr=rate, betas=tuple(h.betas),
                                        weight_decay=h.weight_decay)
                      for n, rate in zip(nets, rates)]
        schedules = [torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: lr_factor(step, h.warmup_steps, h.decay_steps))
            for opt in optimizers]
        return optimizers, [{"scheduler": s, "interval": "step"} for s in schedules]

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        h = self.hparams
        mel, audio = batch
        spec, pred = generate(self.net, mel, h.refine_iterations)
        loss, terms = self.reconstruction_loss(spec, pred, audio)
        optimizer = self.optimizers()
        if self.discriminators is not None:
            optimizer, disc_optimizer = optimizer
            terms["disc"] = self._discriminator_step(disc_optimizer, audio, pred.detach())
            if self.global_step >= h.adversarial_start:
                terms["adv"], terms["feat"] = generator_terms(self.discriminators, audio, pred)
                loss = loss + h.adversarial_weight * terms["adv"] \
                    + h.feature_weight * terms["feat"]
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        self.clip_gradients(optimizer, gradient_clip_val=h.grad_clip,
                            gradient_clip_algorithm="norm")
        optimizer.step()
        schedules = self.lr_schedulers()
        for schedule in schedules if isinstance(schedules, list) else [schedules]:
            schedule.step()
        logged = {f"train/{name}": value.detach() for name, value in terms.items()}
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=len(mel))
        self.log_dict(logged, batch_size=len(mel))

    def reconstruction_loss(self, spec: Tensor, pred: Tensor, audio: Tensor
                            ) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted sum of the mel, STFT and phase losses, and each loss by name, in float32.

        Args:
            spec: the network's (B, F, T + 2) STFT frames.
            pred, audio: (B, T * 320) generated and true audio.
        """
        h = self.hparams
        with torch.autocast(audio.device.type, enabled=False):
            terms = {"mel_l1": mel_loss(pred, audio),
                     "mrstft": stft_loss(pred, audio, h.stft_resolutions)}
            loss = h.mel_weight * terms["mel_l1"] + h.stft_weight * terms["mrstft"]
            if h.phase_weight:
                terms["phase"] = phase_loss(spec, audio, self.net.config.n_fft)
                loss = loss + h.phase_weight * terms["phase"]
            if h.audio_phase_weight:
                terms["audio_phase"] = audio_phase_loss(pred, audio, h.audio_phase_resolution)
                loss = loss + h.audio_phase_weight * terms["audio_phase"]
        return loss, terms

    def _discriminator_step(self, optimizer, real: Tensor, fake: Tensor) -> Tensor:
        """One update of the discriminators on (B, n) real and generated audio; their loss."""
        losses = []

        def closure() -> Tensor:
            losses.append(discriminator_loss(self.discriminators(real),
                                             self.discriminators(fake)))
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(losses[-1])
            return losses[-1]

        # Through the strategy rather than ``optimizer.step``: Lightning counts each
        # LightningOptimizer step as a training step, and a step here is one batch.
        self.trainer.strategy.optimizer_step(optimizer.optimizer, closure, self)
        return losses[-1].detach()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        mel, audio = batch
        systems = {"": generate(self.net, mel, self.hparams.refine_iterations)[1]}
        with torch.autocast(self.device.type, enabled=False):
            if self._baseline_pending:
                systems["griffin_lim_"] = GriffinLim()(mel.float())
            for name, pred in systems.items():
                self.log_dict({f"val/{name}mel_l1": mel_loss(pred, audio),
                               f"val/{name}mrstft": stft_loss(pred, audio)}, batch_size=len(mel))

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._baseline_pending = False
