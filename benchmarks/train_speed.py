"""Training throughput (segments/s, forward + backward + optimizer): specdiff vs diffusers 0.24.0.

    python benchmarks/train_speed.py [--config small] [--batch 2] [--steps 3]

The same training step at the paper's ``small`` size with context, on the same batch (``--batch``
segments of 256 frames, ``--tokens`` note tokens in 2048 slots as the data pipeline pads them,
a full previous-segment context), float32, dropout 0.1, torch.optim.Adafactor (lr 1e-3):

* specdiff: ``DiffusionModule.loss`` (encode with PAD trimmed, eps L1 loss) + backward + step;
* diffusers 0.24.0 (``refenv``, a subprocess): ``SpectrogramNotesEncoder``,
  ``SpectrogramContEncoder`` and ``T5FilmDecoder`` built with the same sizes, the same q_sample
  inputs and L1 loss, + backward + step. Its context encoder accepts one row at a time, so it
  runs per row; its notes encoder attends over all 2048 slots (no PAD trimming).

One warm-up step, then ``--steps`` timed steps each; the median step time gives segments/s.
Both run one after the other in their own process with the same thread count. Prints a table
and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from diffusers_modules import REFENV, SIZES, build_diffusers_modules


def make_batch(batch: int, n_tokens: int):
    """Tokens (B, 2048) with n_tokens valid ids, target/context (B, 256, 128) in [-1, 1], t, eps."""
    import torch

    g = torch.Generator().manual_seed(0)
    tokens = torch.zeros(batch, 2048, dtype=torch.long)
    tokens[:, :n_tokens] = torch.randint(1, 1536, (batch, n_tokens), generator=g)
    target = torch.rand(batch, 256, 128, generator=g) * 2 - 1
    context = torch.rand(batch, 256, 128, generator=g) * 2 - 1
    t = torch.rand(batch, generator=g)
    eps = torch.randn(batch, 256, 128, generator=g)
    return tokens, target, context, t, eps


def timed(step, steps: int) -> list[float]:
    step()  # warm-up
    times = []
    for _ in range(steps):
        tic = time.perf_counter()
        step()
        times.append(time.perf_counter() - tic)
    return times


def worker_specdiff(args) -> dict:
    import torch

    from specdiff.diffusion import l1_eps_loss, q_sample
    from specdiff.training import DiffusionModule, build_optimizer

    torch.manual_seed(0)
    module = DiffusionModule(size=args.config, has_context=True)
    model = module.model.train()
    opt = build_optimizer(model.parameters(), "adafactor", 1e-3)
    tokens, target, context, t, eps = make_batch(args.batch, args.tokens)
    mask = torch.ones(args.batch, 256, dtype=torch.bool)

    def step():
        x_t = q_sample(target, t, eps)
        conditioning = model.encode(tokens, context, mask)
        loss = l1_eps_loss(model.predict_eps(x_t, t, conditioning), eps, reduction="mean")
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return {"times": timed(step, args.steps), "params": sum(p.numel() for p in model.parameters())}


def worker_diffusers(args) -> dict:
    import torch
    notes, cont, dec = build_diffusers_modules(args.config, train=True)
    modules = torch.nn.ModuleList([notes, cont, dec])
    params = [p for p in modules.parameters() if p.requires_grad]
    opt = torch.optim.Adafactor(params, lr=1e-3, beta2_decay=-0.8)
    tokens, target, context, t, eps = make_batch(args.batch, args.tokens)
    ones = torch.ones(args.batch, 256, dtype=torch.bool)
    # the same forward process: alpha^2 = sigmoid(logsnr), official cosine log-SNR
    import math
    b = math.atan(math.exp(-10.0))
    a = math.atan(math.exp(10.0)) - b
    logsnr = -2.0 * torch.log(torch.tan(a * t.double() + b))
    alpha, sigma = torch.sigmoid(logsnr).sqrt().float(), torch.sigmoid(-logsnr).sqrt().float()

    def step():
        x_t = alpha[:, None, None] * target + sigma[:, None, None] * eps
        # diffusers' context encoder only takes batch 1 (its torch.roll of the positions
        # shifts the batch axis), so it runs row by row; the FLOPs are the same
        ctx = [cont(encoder_inputs=context[i:i + 1], encoder_inputs_mask=ones[i:i + 1])
               for i in range(args.batch)]
        memory = [notes(encoder_input_tokens=tokens, encoder_inputs_mask=tokens > 0),
                  (torch.cat([c[0] for c in ctx]), torch.cat([c[1] for c in ctx]))]
        out = dec(encodings_and_masks=memory, decoder_input_tokens=x_t, decoder_noise_time=t)
        loss = (out - eps).abs().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return {"times": timed(step, args.steps), "params": sum(p.numel() for p in modules.parameters())}


def run_worker(python: str, name: str, args) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--config", args.config,
           "--batch", str(args.batch), "--tokens", str(args.tokens), "--steps", str(args.steps),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__)))})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", choices=sorted(SIZES))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=512, help="valid tokens of the 2048 slots")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["specdiff", "diffusers"])
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        fn = worker_specdiff if args.worker == "specdiff" else worker_diffusers
        print(json.dumps(fn(args)))
        return
    rows = {"specdiff": run_worker(sys.executable, "specdiff", args),
            "diffusers 0.24.0": run_worker(REFENV, "diffusers", args)}
    print(f"training step, config={args.config}, batch={args.batch} x 256 frames, "
          f"{args.tokens}/2048 tokens, context, fp32, Adafactor, {args.threads} threads")
    print(f"{'system':18s} {'params':>12s} {'median s/step':>14s} {'segments/s':>11s}  steps (s)")
    rate = {}
    for name, r in rows.items():
        med = statistics.median(r["times"])
        rate[name] = args.batch / med
        print(f"{name:18s} {r['params']:12,d} {med:14.2f} {rate[name]:11.3f}  "
              + " ".join(f"{x:.2f}" for x in r["times"]))
    print(f"ratio specdiff / diffusers: {rate['specdiff'] / rate['diffusers 0.24.0']:.2f}x")


if __name__ == "__main__":
    main()
