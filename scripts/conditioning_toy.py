"""How fast does a small diffusion model learn to read its notes? A synthetic test.

Windows of 3-9 random notes (one program, pitches 40-89, 0.2-1.2 s); the target spectrogram is
their piano roll: -1 everywhere, +1 in 4 bins at the note's pitch while it sounds. The tokens fully
determine the target, so a model that reads them can denoise even pure noise. Every 100 steps the
x0 error (MSE, clipped, scaled space) at t = 0.9 and 0.98 on 16 fixed windows is printed with their
own tokens and with another window's: the gap is what the model takes from its notes.
``--target global`` is the easy control: the whole spectrogram is +1 if the window's one note is
above pitch 64, else -1 (conditioning without any time alignment).

    python scripts/conditioning_toy.py --steps 2000 --loss l2 --logsnr-shift -3

Options are `DiffusionModule`'s (``loss``, ``logsnr_shift``, ``shift_init``,
``guided_attention``) plus
``--note-roll`` (a `ModelConfig(note_roll=True)` model, `specdiff.models.note_roll`) and
``--tied-cross-attention C``: every decoder cross-attention starts with keys = C sqrt(head_dim) x
queries, so matching positions in the query and key streams attend to each other from step 0.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def make_window(rng: np.random.Generator, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One (tokens (L,), x0 (256, 128)) pair."""
    from specdiff.data.notes import make_notes
    from specdiff.data.windows import WindowConfig, window_tokens

    rows = []
    for _ in range(rng.integers(3, 10) if target == "pianoroll" else 1):
        start, length = rng.integers(0, 240) * 0.02, rng.integers(10, 60) * 0.02
        rows.append((start, start + length, int(rng.integers(40, 90)), 100, 0, False))
    notes = make_notes(rows)
    if target == "global":
        x0 = np.full((256, 128), 1.0 if notes["pitch"][0] > 64 else -1.0, np.float32)
    else:
        x0 = -np.ones((256, 128), np.float32)
        for note in notes:
            a, b = int(round(note["start"] / 0.02)), min(256, int(round(note["end"] / 0.02)))
            x0[a:b, note["pitch"] - 20: note["pitch"] - 16] = 1.0
    return torch.from_numpy(window_tokens(notes, 0, WindowConfig())), torch.from_numpy(x0)


def make_batch(rng: np.random.Generator, size: int, target: str) -> dict[str, torch.Tensor]:
    tokens, x0 = zip(*(make_window(rng, target) for _ in range(size)))
    return {"tokens": torch.stack(tokens), "target": torch.stack(x0)}


@torch.no_grad()
def x0_errors(model, batch: dict[str, torch.Tensor], times=(0.9, 0.98)) -> list[float]:
    """[own, other] x0 MSE at each time, fixed noise."""
    from specdiff.diffusion import alpha_sigma, logsnr_cosine

    x0 = batch["target"]
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    out = []
    for value in times:
        t = torch.full((len(x0),), value)
        alpha, sigma = (a.float()[:, None, None] for a in alpha_sigma(logsnr_cosine(t)))
        x_t = alpha * x0 + sigma * eps
        for tokens in (batch["tokens"], batch["tokens"].roll(1, 0)):
            conditioning = model.encode(tokens)
            x0_hat = ((x_t - sigma * model.predict_eps(x_t, t, conditioning)) / alpha).clamp(-1, 1)
            out.append(float((x0_hat - x0).square().mean()))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--target", choices=("pianoroll", "global"), default="pianoroll")
    p.add_argument("--loss", choices=("l1", "l2"), default="l1")
    p.add_argument("--logsnr-shift", type=float, default=0.0)
    p.add_argument("--shift-init", choices=("random", "time"), default="random")
    p.add_argument("--tied-cross-attention", type=float, default=None, metavar="C")
    p.add_argument("--guided-attention", type=float, default=0.0, metavar="WEIGHT")
    p.add_argument("--note-roll", action="store_true",
                   help="a ModelConfig(note_roll=True) model: the decoder also reads the notes' roll")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    from specdiff.training import DiffusionModule

    torch.set_num_threads(args.threads)
    module = DiffusionModule(
        has_context=False, optimizer="adamw", loss=args.loss, shift_init=args.shift_init,
        model_overrides=dict(d_model=128, num_heads=4, head_dim=32, d_ff=512, encoder_layers=2,
                             decoder_layers=2, dropout=0.0, prediction="v",
                             note_roll=args.note_roll))
    model = module.model
    if args.tied_cross_attention is not None:
        with torch.no_grad():
            for layer in model.decoder.layers:
                attention = layer.cross_attention
                attention.k.weight.copy_(attention.q.weight * args.tied_cross_attention
                                         * attention.head_dim**0.5)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    fixed = make_batch(rng, 16, args.target)
    print(f"{vars(args)}\n\n| step | t = 0.9 own | other | t = 0.98 own | other | seconds |\n"
          "|---|---|---|---|---|---|")
    start = time.time()
    for step in range(args.steps + 1):
        if step % 100 == 0:
            errors = " | ".join(f"{e:.4f}" for e in x0_errors(model, fixed))
            print(f"| {step} | {errors} | {time.time() - start:.0f} |", flush=True)
        loss = module.loss(model, make_batch(rng, 8, args.target), logsnr_shift=args.logsnr_shift,
                           guided_attention=args.guided_attention)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
