"""specdiff.training: LightningModules, the DataModules, EMA, the LightningCLI entry and export.

Importing it imports Lightning (``import specdiff`` does not).
"""

from specdiff.training.base import SynthesisModule, mel_image
from specdiff.training.baselines import (
    AutoregressiveModule,
    GroundTruthModule,
    frame_mse,
    ground_truth_encoded,
)
from specdiff.training.cli import SpecdiffCLI, cli_main, default_precision
from specdiff.training.data import ResumableSampler, SpecdiffDataModule, collate
from specdiff.training.diffusion import DiffusionModule, drop_conditions, step_seed
from specdiff.training.ema import ema_copy, ema_decay_at, ema_update
from specdiff.training.export import checkpoint_model, export_checkpoint, read_checkpoint
from specdiff.training.init import init_weights, permuted_sinusoid_table
from specdiff.training.optim import build_optimizer, warmup_schedule
from specdiff.training.vocoder import VocoderDataModule, VocoderExport, VocoderModule

__all__ = [
    "AutoregressiveModule",
    "DiffusionModule",
    "GroundTruthModule",
    "ResumableSampler",
    "SpecdiffCLI",
    "SpecdiffDataModule",
    "SynthesisModule",
    "VocoderDataModule",
    "VocoderExport",
    "VocoderModule",
    "build_optimizer",
    "checkpoint_model",
    "cli_main",
    "collate",
    "default_precision",
    "drop_conditions",
    "ema_copy",
    "ema_decay_at",
    "ema_update",
    "export_checkpoint",
    "frame_mse",
    "ground_truth_encoded",
    "init_weights",
    "mel_image",
    "permuted_sinusoid_table",
    "read_checkpoint",
    "step_seed",
    "warmup_schedule",
]
