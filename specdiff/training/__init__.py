"""specdiff.training: LightningModules, the DataModule, EMA, the LightningCLI entry and export.

Importing it imports Lightning (``import specdiff`` does not).
"""

from specdiff.training.base import SynthesisModule, mel_image
from specdiff.training.baselines import (AutoregressiveModule, GroundTruthModule, frame_mse,
                                         ground_truth_encoded)
from specdiff.training.cli import SpecdiffCLI, cli_main, default_precision
from specdiff.training.data import ResumableSampler, SpecdiffDataModule, collate
from specdiff.training.diffusion import DiffusionModule, drop_conditions, step_seed
from specdiff.training.ema import ema_copy, ema_decay_at, ema_update
from specdiff.training.export import export_checkpoint, read_checkpoint
from specdiff.training.init import init_weights, permuted_sinusoid_table
from specdiff.training.optim import build_optimizer, warmup_schedule

__all__ = [
    "SynthesisModule", "mel_image", "AutoregressiveModule", "GroundTruthModule", "frame_mse",
    "ground_truth_encoded", "SpecdiffCLI", "cli_main", "default_precision", "ResumableSampler",
    "SpecdiffDataModule", "collate", "DiffusionModule", "drop_conditions", "step_seed", "ema_copy",
    "ema_decay_at", "ema_update", "export_checkpoint", "read_checkpoint", "init_weights",
    "permuted_sinusoid_table", "build_optimizer", "warmup_schedule",
]
