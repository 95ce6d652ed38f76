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
from torch.utils.data import Dataset

REPO = Path(__file__).resolve().parents[2]
SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
FRAMES = 256


def render_segments(out_dir: Path, midi: str = "examples/pop_groove.mid", max_segments: int = 4,
                    hop_frames: int = 128) -> list[dict]:
    """Render ``midi`` with FluidSynth and cut windows of 256 frames every ``hop_frames`` frames.

    Returns:
        Sample dicts: tokens (L,) int64, target (256, 128) scaled, context (256, 128) scaled (the
        256 frames before the window; at the start of the piece, the valid frames first, then zeros masked), context_mask (256,).
    """
    from specdiff.audio import load_audio, log_mel, scale_mel
    from specdiff.codec import read_midi, tokenize_window
    from specdiff.data.render import RenderConfig, render_file

    entry = render_file(REPO / midi, "piece", out_dir, RenderConfig(soundfont=SOUNDFONT, tail=0.5))
    mel = scale_mel(log_mel(load_audio(out_dir / entry["audio"])))  # (T, 128)
    seq = read_midi(out_dir / entry["midi"])
    samples = []
    for start in range(0, mel.shape[0] - FRAMES + 1, hop_frames):
        context = torch.zeros(FRAMES, mel.shape[1])
        mask = torch.zeros(FRAMES, dtype=torch.bool)
        n = start - max(0, start - FRAMES)
        context[:n] = mel[start - n:start]  # valid frames first (terminal-relative positions)
        mask[:n] = True
        samples.append({
            "tokens": torch.from_numpy(np.asarray(tokenize_window(seq, start, FRAMES))),
            "target": mel[start:start + FRAMES].clone(),
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
