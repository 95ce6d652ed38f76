"""Overfitting one rendered segment: after training, sampling with its conditioning reproduces
its spectrogram far better than the untrained model does."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from specdiff.cli import main

FRAMES = 32
STEPS = 3200
#: mel L1 (natural-log mel, averaged over frames and bins) of the trained model's sample must be
#: below this fraction of the untrained model's (about 7.2: noise clipped to the range), and below
#: the L1 of the segment's own mean spectrum (about 1.3: what a model that learned only the
#: segment's average colour would score). Measured (2026-11-25, d_model 128, AdamW 1e-3): trained
#: 2.80 after 800 steps (0.39x), 1.30 after 1600 (0.18x), 0.55 after 3200 (0.076x), in 73, 135
#: and 264 s on one CPU thread. (The earlier 64-wide model at lr 1e-2 stalled at 0.76x: its
#: eps output had rank 64 < 128 mel bins, and lr 1e-2 was too high for wider models.)
BOUND = 0.15


def sample_l1(model, sample) -> float:
    from specdiff.audio import unscale_mel
    from specdiff.diffusion import sample as run_sampler

    model.eval()
    with torch.no_grad():
        conditioning = model.encode(sample["tokens"][None], sample["context"][None],
                                    sample["context_mask"][None])
        x = run_sampler(model.eps_fn(conditioning), (1, FRAMES, 128), "dpmpp_2m", 20,
                        generator=torch.Generator().manual_seed(1))
    return float((unscale_mel(x.clamp(-1, 1)) - unscale_mel(sample["target"][None])).abs().mean())


@pytest.mark.slow
def test_overfitting_one_segment_then_sampling_reproduces_it(tmp_path, monkeypatch):
    from training_data import render_segments

    from specdiff.audio import unscale_mel
    from specdiff.models import SpectrogramDiffusion
    from specdiff.training import DiffusionModule

    monkeypatch.chdir(tmp_path)
    segment = render_segments(tmp_path / "render", frames=FRAMES, hop_frames=FRAMES,
                              max_segments=3)[2]  # a window with notes and a full context
    torch.save([segment], tmp_path / "one.pt")
    sizes = dict(dropout=0.0, d_model=128, head_dim=32, d_ff=256, target_length=FRAMES,
                 context_length=FRAMES)
    ds = (f"{{class_path: training_data.SavedSegments, init_args: "
          f"{{path: {tmp_path / 'one.pt'}, repeat: 8}}}}")
    (tmp_path / "one.yaml").write_text(
        f"model:\n  init_args:\n    model_overrides: {sizes}\n    cond_drop_prob: 0.0\n"
        f"data:\n  init_args:\n    batch_size: 8\n    train: {ds}\n    val: {ds}\n")
    assert main(["fit", "--config", str(TINY), "--config", "one.yaml", f"--trainer.max_steps={STEPS}",
                 "--model.init_args.lr=1e-3", "--model.init_args.warmup_steps=50",
                 "--trainer.val_check_interval=400", "--model.init_args.num_logged=0"]) == 0
    assert main(["export", "runs/tiny/checkpoints/last.ckpt", "-o", "one.safetensors"]) == 0
    trained = sample_l1(SpectrogramDiffusion.from_pretrained("one.safetensors"), segment)
    untrained = sample_l1(DiffusionModule(size="tiny", model_overrides=sizes).model, segment)
    target = unscale_mel(segment["target"])
    mean_spectrum = float((target.mean(0, keepdim=True) - target).abs().mean())
    print(f"mel L1: trained {trained:.3f}, untrained {untrained:.3f}, "
          f"mean spectrum {mean_spectrum:.3f}")
    assert untrained > 5.0
    assert trained < BOUND * untrained, (trained, untrained)
    assert trained < mean_spectrum, (trained, mean_spectrum)
