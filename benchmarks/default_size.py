"""Training step time of candidate sizes for the built-in model, float32 vs bf16 autocast.

One thread, batch ``--batch`` real training windows (with context) from a ``specdiff prepare``
cache, forward + backward + AdamW step, ``--repeats`` steps per setting (the first is warm-up);
prints the best and the median. Dropout is 0 (as in configs/builtin_stage1.yaml); ``--dropout 0.1``
shows what attention dropout costs.

    python benchmarks/default_size.py --cache corpus/cache [--sizes d128x3 d256x4]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import time

import numpy as np
import torch

SIZES = {
    "d128x3": dict(d_model=128, num_heads=4, head_dim=32, d_ff=512, encoder_layers=3, decoder_layers=3),
    "d192x4": dict(d_model=192, num_heads=3, head_dim=64, d_ff=768, encoder_layers=4, decoder_layers=4),
    "d256x4": dict(d_model=256, num_heads=4, head_dim=64, d_ff=1024, encoder_layers=4, decoder_layers=4),
    "d384x6": dict(d_model=384, num_heads=6, head_dim=64, d_ff=1024, encoder_layers=6, decoder_layers=6),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", default="corpus/cache")
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--dropout", type=float, default=0.0)
    args = p.parse_args()

    from specdiff.training import DiffusionModule, SpecdiffDataModule

    torch.set_num_threads(1)
    data = SpecdiffDataModule(cache=args.cache, batch_size=args.batch, context=True)
    data.setup("fit")
    loader = iter(data.train_dataloader())
    batches = [next(loader) for _ in range(args.repeats)]
    print("| size | parameters | float16 MB | float32 step s (best / median) | bf16 step s |")
    print("|---|---|---|---|---|")
    for name in args.sizes:
        module = DiffusionModule(size="small", optimizer="adamw",
                                 model_overrides={**SIZES[name], "dropout": args.dropout})
        count = sum(p.numel() for p in module.model.parameters())
        optimizer = torch.optim.AdamW(module.model.parameters(), 1e-4)
        cells = []
        for bf16 in (False, True):
            times = []
            for batch in batches:
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = module.loss(module.model, batch, drop_prob=0.1)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                times.append(time.perf_counter() - start)
            cells.append(f"{min(times[1:]):.2f} / {np.median(times[1:]):.2f}")
        print(f"| {name} | {count / 1e6:.1f} M | {2 * count / 1e6:.0f} | {cells[0]} | {cells[1]} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
