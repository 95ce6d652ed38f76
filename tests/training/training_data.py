"""Test-only training data: a few 5.12 s segments of a FluidSynth render (TimGM6mb), as sample dicts.

Until ``specdiff.data``'s segment dataset is used here, this builds the same sample dict
(``tokens``, ``target``, ``context``, ``context_mask``; see ``specdiff.training.data``) from one
rendered example MIDI. It is importable by name from subprocesses (PYTHONPATH = this folder), so
YAML configs can name ``training_data.SavedSegments``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback
from torch.utils.data import Dataset

REPO = Path(__file__).resolve().parents[2]
SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
FRAMES = 256


def render_segments(out_dir: Path, midi: str = "examples/pop_groove.mid", max_segments: int = 4,
                    hop_frames: int = 128, frames: int = FRAMES) -> list[dict]:
    """Render ``midi`` with FluidSynth and cut windows of ``frames`` frames every ``hop_frames``.

    The model's contract is 256 frames; tests use shorter windows (with a model whose
    ``target_length`` / ``context_length`` match) to keep CPU steps cheap.

    Returns:
        Sample dicts: tokens (L,) int64, target (frames, 128) scaled, context (frames, 128) scaled
        (the frames before the window; at the start of the piece, the valid frames first, then zeros masked), context_mask (256,).
    """
    from specdiff.audio import load_audio, log_mel, scale_mel
    from specdiff.codec import read_midi, tokenize_window
    from specdiff.data.render import RenderConfig, render_file

    entry = render_file(REPO / midi, "piece", out_dir, RenderConfig(soundfont=SOUNDFONT, tail=0.5))
    mel = scale_mel(log_mel(load_audio(out_dir / entry["audio"])))  # (T, 128)
    seq = read_midi(out_dir / entry["midi"])
    samples = []
    for start in range(0, mel.shape[0] - frames + 1, hop_frames):
        context = torch.zeros(frames, mel.shape[1])
        mask = torch.zeros(frames, dtype=torch.bool)
        n = start - max(0, start - frames)
        context[:n] = mel[start - n:start]  # valid frames first (terminal-relative positions)
        mask[:n] = True
        samples.append({
            "tokens": torch.from_numpy(np.asarray(tokenize_window(seq, start, frames))),
            "target": mel[start:start + frames].clone(),
            "context": context, "context_mask": mask})
        if len(samples) == max_segments:
            break
    return samples


class SavedSegments(Dataset):
    """Sample dicts saved with ``torch.save`` (a list), optionally repeated ``repeat`` times."""

    def __init__(self, path: str, repeat: int = 1, limit: int | None = None):
        self.samples = torch.load(path, weights_only=True)[:limit]
        self.repeat = repeat

    def __len__(self) -> int:
        return len(self.samples) * self.repeat

    def __getitem__(self, index: int) -> dict:
        return self.samples[index % len(self.samples)]


class SaveWeights(Callback):
    """At the end of training, save this process's weights and its first batch's token ids to
    ``<dirpath>/rank<r>.pt``."""

    def __init__(self, dirpath: str):
        self.dirpath = dirpath
        self.first_tokens = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.first_tokens is None:
            self.first_tokens = batch["tokens"].clone()

    def on_train_end(self, trainer, module):
        Path(self.dirpath).mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        torch.save({"state": state, "first_tokens": self.first_tokens},
                   Path(self.dirpath) / f"rank{trainer.global_rank}.pt")
