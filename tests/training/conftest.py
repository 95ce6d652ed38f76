"""Shared fixtures of the training tests: rendered segments and a data config for the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TINY = REPO / "configs" / "tiny.yaml"
sys.path.insert(0, str(HERE))  # training_data, importable by name in configs


def child_env() -> dict[str, str]:
    """Environment of CLI subprocesses: ``training_data`` importable, few threads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """FluidSynth renders of examples/pop_groove.mid cut into samples, saved for ``SavedSegments``.

    ``short``: 8 windows of 64 frames (with a 64-frame model: cheap CPU steps);
    ``full``: 2 windows of the real 256 frames.
    """
    from training_data import render_segments

    root = tmp_path_factory.mktemp("rendered")
    short = render_segments(root / "render", frames=64, hop_frames=64, max_segments=8)
    full = render_segments(root / "render", frames=256, hop_frames=128, max_segments=2)
    torch.save(short, root / "short.pt")
    torch.save(full, root / "full.pt")
    return {"root": root, "short": root / "short.pt", "full": root / "full.pt"}


def data_config(path: Path, out: Path, frames: int | None = 64, limit: int | None = None) -> Path:
    """A second config for ``configs/tiny.yaml``: the datasets, and a model of ``frames`` frames
    (None: no model section, for models without sizes)."""
    lim = "" if limit is None else f", limit: {limit}"
    ds = f"{{class_path: training_data.SavedSegments, init_args: {{path: {path}{lim}}}}}"
    text = "" if frames is None else (
        f"model:\n  init_args:\n    model_overrides: {{dropout: 0.0, target_length: {frames}, "
        f"context_length: {frames}}}\n")
    text += f"data:\n  init_args:\n    train: {ds}\n    val: {ds}\n    test: {ds}\n"
    out.write_text(text)
    return out
