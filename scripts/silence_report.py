"""Whether a diffusion model falls silent where the music stops (``specdiff.evaluation.silence``).

Prints, per seed, the RMS over the probe's notes, the RMS after them and their ratio (the
built-in model's test asks < 0.1 at every seed). Takes an exported model or a `specdiff fit`
checkpoint (its EMA weights, as `specdiff export` would write them).

    python scripts/silence_report.py runs/default/checkpoints/last.ckpt [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None,
                   help="a .ckpt, an exported model or hub id (default: the built-in model)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--guidance", type=float, default=None, help="default: the model's")
    p.add_argument("--vocoder", default="specdiff", help="as the built-in model (default)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    from specdiff.evaluation.silence import silence_probe
    from specdiff.synthesizer import load_synthesizer

    torch.set_num_threads(args.threads)
    if args.model is not None and args.model.endswith(".ckpt"):
        from specdiff.training.export import checkpoint_model

        model = checkpoint_model(args.model)
    else:
        model = load_synthesizer(args.model)
    probes = silence_probe(model, args.seeds, steps=args.steps, guidance=args.guidance,
                           vocoder=args.vocoder)
    for probe in probes:
        print(f"seed {probe.seed}: sounding RMS {probe.sounding:.4f}, silent RMS "
              f"{probe.silent:.4f}, ratio {probe.ratio:.3f}")
    print("ratios " + " / ".join(f"{probe.ratio:.2f}" for probe in probes)
          + f"; worst {max(probe.ratio for probe in probes):.3f} (passes below 0.1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
