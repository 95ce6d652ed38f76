"""A callback that writes the vocoder being trained as the file ``load_vocoder`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from specdiff.vocoders.neural import save_neural_vocoder


class VocoderExport(pl.Callback):
    """After each validation, ``dirpath/latest.safetensors`` and, when ``val/mel_l1`` is the
    lowest so far, ``dirpath/best.safetensors``: a ``VocoderModule``'s network as float16
    safetensors (``save_neural_vocoder``; metadata ``step`` and, in best, ``val_mel_l1``).
    The best score so far is part of the checkpoint, so a resumed run keeps it.

    Args:
        dirpath: the folder of the two files (None: ``trainer.log_dir``, the first logger's
            folder, or ``default_root_dir`` without a logger).
    """

    def __init__(self, dirpath: str | None = None):
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.best = float("inf")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = Path(trainer.log_dir or trainer.default_root_dir)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = float(trainer.callback_metrics["val/mel_l1"])
        step = {"step": str(trainer.global_step)}
        if trainer.is_global_zero:
            save_neural_vocoder(pl_module.net, self.dirpath / "latest.safetensors", metadata=step)
            if score < self.best:
                save_neural_vocoder(pl_module.net, self.dirpath / "best.safetensors",
                                    metadata={**step, "val_mel_l1": f"{score:.5f}"})
        self.best = min(self.best, score)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict["best"])
