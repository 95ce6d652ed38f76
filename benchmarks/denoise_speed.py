"""Time to generate one 5.12 s segment (256 frames): specdiff vs diffusers 0.24.0 vs the official recipe.

    python benchmarks/denoise_speed.py [--configs small base] [--tokens 512]

Random weights at the paper's ``small`` and ``base`` sizes (with context encoder), one segment with
``--tokens`` note tokens (of 2048 slots) and a full previous-segment context:

* specdiff: encode once, then 20 DPM-Solver++(2M) steps with classifier-free guidance (w = 2,
  conditional and unconditional rows in one batch, cross-attention K/V cached, padding trimmed),
  float32 and bfloat16. The whole segment runs; each guided network call is timed.
* diffusers 0.24.0 (``refenv``): its pipeline's components (``SpectrogramNotesEncoder``,
  ``SpectrogramContEncoder``, ``T5FilmDecoder``, ``DDPMScheduler``), 100 steps, no guidance,
  float32. Encoding is timed, and ``--ref-steps`` decoder+scheduler steps after a warm-up step.
* official recipe: 1000 DDPM steps with guidance as two unbatched passes over the full memory,
  timed on the diffusers decoder (same network, same numerics) for ``--ref-steps`` steps.

Segment time = encoding + steps x the median step time, for every row (the machine is shared and
noisy; the median of the steps is the robust figure; specdiff's measured wall time is printed too).

``--ablation`` adds specdiff float32 with the speed features off (full 2304-key memory, K/V
recomputed at every call, conditional and unconditional passes run one after the other).

Each measurement runs in its own process (one after the other) so that the peak resident memory
(ru_maxrss, weights included) belongs to it alone. Prints a table and ratios.
"""

from __future__ import annotations

import argparse  # noqa: E402
import json  # noqa: E402
import os
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys
import time  # noqa: E402

from diffusers_modules import REFENV, SIZES, build_diffusers_modules


def _tokens(n_valid: int):
    import torch

    gen = torch.Generator().manual_seed(0)
    tokens = torch.zeros(1, 2048, dtype=torch.long)
    tokens[0, :n_valid] = torch.randint(1, 1536, (n_valid,), generator=gen)
    context = torch.rand(1, 256, 128, generator=gen) * 2 - 1
    return tokens, context


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def worker_specdiff(args) -> dict:
    import statistics

    import torch

    from specdiff.diffusion import cfg, sample
    from specdiff.models import SpectrogramDiffusion, model_config

    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config(args.config)).eval()
    if args.dtype == "bfloat16":
        from specdiff.models.precision import apply_precision

        model = apply_precision(model, "bf16")  # as `--precision bf16` runs it
    elif args.dtype == "int8":  # dynamic int8 quantization of the decoder's linear layers
        from torch import nn

        model.decoder.layers = torch.ao.quantization.quantize_dynamic(
            model.decoder.layers, {nn.Linear}, dtype=torch.qint8)
    tokens, context = _tokens(args.tokens)
    steps: list[float] = []
    with torch.inference_mode():
        conditioning = model.encode(tokens, context)  # warm-up: one guided network call
        cfg(model.eps_fn(conditioning), 2.0)(torch.randn(1, 256, 128), torch.ones(1))
        start = time.perf_counter()
        if args.plain:  # ablation: no trimming, no K/V cache, two unbatched guidance passes
            conditioning = model.encode(tokens, context, trim=False)
            encode_s = time.perf_counter() - start
            guided = cfg(lambda x, t, rows=None: model.predict_eps(x, t, conditioning, rows),
                         2.0, batched=False)
        else:
            conditioning = model.encode(tokens, context)
            encode_s = time.perf_counter() - start
            guided = cfg(model.eps_fn(conditioning), 2.0)

        def timed(x, t):
            tic = time.perf_counter()
            out = guided(x, t)
            steps.append(time.perf_counter() - tic)
            return out

        x = sample(timed, (1, 256, 128), "dpmpp_2m", args.steps, torch.Generator().manual_seed(1))
        wall = time.perf_counter() - start
    assert torch.isfinite(x).all() and len(steps) == args.steps
    step_s = statistics.median(steps)
    return dict(encode_s=encode_s, step_s=step_s, segment_s=encode_s + args.steps * step_s,
                wall_s=wall, peak_gib=_peak_gib())


def worker_diffusers(args) -> dict:
    import statistics

    import torch
    from diffusers import DDPMScheduler

    notes, cont, dec = build_diffusers_modules(args.config, train=False)
    sched = DDPMScheduler(beta_schedule="squaredcos_cap_v2", num_train_timesteps=1000,
                          variance_type="fixed_large", clip_sample=True)
    sched.set_timesteps(100)
    tokens, context = _tokens(args.tokens)
    gen = torch.Generator().manual_seed(1)
    ones = torch.ones(1, 256, dtype=torch.bool)

    def encode():
        enc = notes(encoder_input_tokens=tokens.int(), encoder_inputs_mask=tokens > 0)
        return [enc, cont(encoder_inputs=context, encoder_inputs_mask=ones)]

    def step(memory, x, t):
        out = dec(encodings_and_masks=memory, decoder_input_tokens=x,
                  decoder_noise_time=(t / 1000) * torch.ones(1))
        return sched.step(out, t, x, generator=gen).prev_sample

    with torch.inference_mode():
        memory = encode()
        x = step(memory, torch.randn(1, 256, 128, generator=gen), sched.timesteps[0])  # warm-up
        start = time.perf_counter()
        memory = encode()
        encode_s = time.perf_counter() - start
        steps, guided_steps = [], []
        uncond = [(e * 0, m & False) for e, m in memory]
        for t in sched.timesteps[1:1 + args.ref_steps]:
            tic = time.perf_counter()
            x = step(memory, x, t)
            steps.append(time.perf_counter() - tic)
            # official recipe: a conditional and a separate unconditional pass per step
            tic = time.perf_counter()
            dec(encodings_and_masks=memory, decoder_input_tokens=x,
                decoder_noise_time=(t / 1000) * torch.ones(1))
            step(uncond, x, t)
            guided_steps.append(time.perf_counter() - tic)
        step_s, guided_step_s = statistics.median(steps), statistics.median(guided_steps)
    return dict(encode_s=encode_s, step_s=step_s, segment_s=encode_s + 100 * step_s,
                official_step_s=guided_step_s, official_segment_s=encode_s + 1000 * guided_step_s,
                peak_gib=_peak_gib())


def spawn(python: str, worker: str, config: str, args, **extra) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", worker, "--config", config,
           "--tokens", str(args.tokens), "--steps", str(args.steps), "--ref-steps", str(args.ref_steps)]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["small", "base"], choices=list(SIZES))
    parser.add_argument("--tokens", type=int, default=512, help="valid note tokens in the segment")
    parser.add_argument("--steps", type=int, default=20, help="specdiff DPM-Solver++ steps")
    parser.add_argument("--ref-steps", type=int, default=4,
                        help="diffusers steps timed (then extrapolated)")
    parser.add_argument("--refenv", default=REFENV, help="python of the diffusers 0.24.0 env")
    parser.add_argument("--worker", choices=["specdiff", "diffusers"], help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--plain", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16", "int8"],
                        help="specdiff rows (int8: dynamic quantization of the decoder linears)")
    parser.add_argument("--ablation", action="store_true",
                        help="also time specdiff float32 with the speed features off")
    args = parser.parse_args()
    if args.worker == "specdiff":
        print(json.dumps(worker_specdiff(args)))
        return
    if args.worker == "diffusers":
        print(json.dumps(worker_diffusers(args)))
        return

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"{args.tokens} note tokens + 256 context frames; times in seconds per 5.12 s segment")
    header = f"{'config':6} {'method':44} {'segment s':>10} {'step s':>8} {'peak GiB':>9} {'speed-up':>9}"
    print(header)
    print("-" * len(header))
    from specdiff.models.precision import native_precisions

    print(f"native precisions of this CPU: {', '.join(native_precisions('cpu'))} "
          f"(torch CPU capability {torch.backends.cpu.get_cpu_capability()})")
    for config in args.configs:
        walls: list[str] = []
        rows = []
        ref = {"segment_s": float("nan")}
        if os.path.exists(args.refenv):
            ref = spawn(args.refenv, "diffusers", config, args)
            rows += [
                ("diffusers 0.24.0, 100 DDPM steps, no CFG (extrap.)", ref["segment_s"],
                 ref["step_s"], ref["peak_gib"]),
                ("official recipe, 1000 steps x 2 passes (extrap.)", ref["official_segment_s"],
                 ref["official_step_s"], ref["peak_gib"]),
            ]
        else:
            print(f"(no reference environment at {args.refenv}: specdiff rows only)")
        for dtype in args.dtypes:
            ours = spawn(sys.executable, "specdiff", config, args, dtype=dtype)
            rows.append((f"specdiff {dtype}, {args.steps} DPM++ steps, CFG", ours["segment_s"],
                         ours["step_s"], ours["peak_gib"]))
            walls.append(f"specdiff {dtype} wall {ours['wall_s']:.2f} s")
        if args.ablation:
            ours = spawn(sys.executable, "specdiff", config, args, plain=1)
            rows.append(("  same, float32, no trim/cache/batched CFG", ours["segment_s"],
                         ours["step_s"], ours["peak_gib"]))
        for name, seg, step, peak in rows:
            print(f"{config:6} {name:44} {seg:10.2f} {step:8.3f} {peak:9.2f} "
                  f"{ref['segment_s'] / seg:8.2f}x  RTF {seg / 5.12:.2f}")
        print(f"{config:6} (measured whole segment: {'; '.join(walls)})")
        sys.stdout.flush()
    print("speed-up = diffusers segment time / this row's segment time")


if __name__ == "__main__":
    main()
