"""How well a diffusion checkpoint denoises, noise level by noise level, and what it samples.

For a batch of validation windows of a ``specdiff prepare`` cache: at each time t the ground truth
is noised (fixed noise) and the EMA model's prediction is scored (L1 of its epsilon and of its
clipped x0 estimate, scaled space); then 20-step DPM++ samples (guidance 1) are compared with the
targets (L1, standard deviation; the targets' own mean spectrum gives a reference L1). A model can
denoise well at every t and still sample noise: that is what this report separates.

Then whether the model uses its conditioning: the x0 error at high noise with each window's own
tokens, with another window's tokens (the batch rolled by one), with no tokens (all PAD) and,
for models with context, without the context. A model that follows its notes does clearly
better with its own tokens than with another window's.

    python scripts/denoiser_report.py runs/default/checkpoints/last.ckpt --cache corpus/cache
"""

from __future__ import annotations

import argparse

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a `specdiff fit` checkpoint (.ckpt)")
    p.add_argument("--cache", default="corpus/cache")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--raw", action="store_true", help="the raw weights instead of the EMA")
    args = p.parse_args()

    from specdiff.diffusion import alpha_sigma, logsnr_cosine, sample
    from specdiff.training import SpecdiffDataModule
    from specdiff.training.export import checkpoint_model

    torch.set_num_threads(1)
    model = checkpoint_model(args.checkpoint, use_ema=not args.raw)
    config = model.config
    data = SpecdiffDataModule(cache=args.cache, batch_size=args.batch, context=config.has_context,
                              val_batches=1)
    data.setup("validate")
    batch = next(iter(data.val_dataloader()))
    x0 = batch["target"]
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))

    def estimate(value: float, conditioning) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps_hat, clipped x0 estimate) of the noised targets at time ``value``."""
        t = torch.full((x0.shape[0],), value)
        alpha, sigma = (a.float()[:, None, None] for a in alpha_sigma(logsnr_cosine(t)))
        x_t = alpha * x0 + sigma * eps
        eps_hat = model.predict_eps(x_t, t, conditioning)
        return eps_hat, ((x_t - sigma * eps_hat) / alpha).clamp(-1, 1)

    print(f"{args.checkpoint}: prediction {config.prediction}, "
          f"{'raw' if args.raw else 'EMA'} weights, {x0.shape[0]} validation windows\n")
    print("| t | alpha | eps L1 | x0 L1 (clipped) |\n|---|---|---|---|")
    with torch.no_grad():
        conditioning = model.encode(batch["tokens"], batch.get("context"),
                                    batch.get("context_mask"))
        for value in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98):
            eps_hat, x0_hat = estimate(value, conditioning)
            alpha = alpha_sigma(logsnr_cosine(torch.tensor(value)))[0]
            print(f"| {value} | {alpha:.3f} | {(eps_hat - eps).abs().mean():.3f} "
                  f"| {(x0_hat - x0).abs().mean():.3f} |")
        out = sample(model.eps_fn(conditioning), x0.shape, "dpmpp_2m", 20,
                     generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
        tokens, context_mask = batch["tokens"], batch.get("context_mask")
        conditions = {"own tokens": (tokens, context_mask),
                      "another window's tokens": (tokens.roll(1, 0), context_mask),
                      "no tokens": (torch.zeros_like(tokens), context_mask)}
        if config.has_context:
            conditions["own tokens, no context"] = (tokens, torch.zeros_like(context_mask))
        times = (0.6, 0.8, 0.9)
        print(f"\nconditioning: x0 L1 (clipped) at t = {', '.join(map(str, times))}\n")
        print("| tokens | " + " | ".join(f"t = {v}" for v in times) + " |\n|---|"
              + "---|" * len(times))
        for label, (tokens, context_mask) in conditions.items():
            conditioning = model.encode(tokens, batch.get("context"), context_mask)
            errors = [f"{(estimate(v, conditioning)[1] - x0).abs().mean():.3f}" for v in times]
            print(f"| {label} | " + " | ".join(errors) + " |")
    mean_spectrum = (x0.mean(1, keepdim=True) - x0).abs().mean()
    print(f"\nsamples (DPM++ 20 steps, no guidance): L1 to target {(out - x0).abs().mean():.3f}, "
          f"std {out.std():.3f}; targets: std {x0.std():.3f}, their mean spectrum's L1 "
          f"{mean_spectrum:.3f} (scaled space)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
