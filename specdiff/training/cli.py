"""The LightningCLI entry behind ``specdiff fit | validate | test --config CONFIG.yaml``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI

SUBCOMMANDS = ("fit", "validate", "test")


def default_precision() -> str:
    """``bf16-mixed`` on GPUs that support bfloat16, else ``32-true``."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


class SpecdiffCLI(LightningCLI):
    """LightningCLI with specdiff's defaults: any LightningModule / DataModule by ``class_path``,
    bf16 mixed precision where supported, our own sampler (no automatic DistributedSampler: the
    DataModule shards its resumable stream by rank), and a config file saved with every run."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.set_defaults({
            "trainer.precision": default_precision(),
            "trainer.use_distributed_sampler": False,
        })


def cli_main(args: Sequence[str]) -> SpecdiffCLI:
    """Run LightningCLI on ``args`` (``[subcommand, --config, FILE, ...overrides]``)."""
    # sys.argv stays as it is: DDP re-launches it for the other ranks
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within")
    # the EMA copy is in eval mode on purpose
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training")
    return SpecdiffCLI(
        LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
        args=list(args), save_config_kwargs={"overwrite": True})
