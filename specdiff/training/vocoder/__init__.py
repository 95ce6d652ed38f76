"""Vocoder training: losses, data, the LightningModule and the export callback."""

from specdiff.training.vocoder.data import (
    AudioPool,
    StepBatches,
    StepPositions,
    VocoderDataModule,
    make_batch,
    validation_batches,
)
from specdiff.training.vocoder.export import VocoderExport
from specdiff.training.vocoder.losses import (
    audio_phase_loss,
    mel_loss,
    phase_difference_loss,
    phase_loss,
    stft_loss,
)
from specdiff.training.vocoder.module import (
    VocoderModule,
    generate,
    lr_factor,
    start_from,
    transfer_weights,
)

__all__ = [
    "AudioPool",
    "StepBatches",
    "StepPositions",
    "VocoderDataModule",
    "VocoderExport",
    "VocoderModule",
    "audio_phase_loss",
    "generate",
    "lr_factor",
    "make_batch",
    "mel_loss",
    "phase_difference_loss",
    "phase_loss",
    "start_from",
    "stft_loss",
    "transfer_weights",
    "validation_batches",
]
