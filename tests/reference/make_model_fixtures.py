"""Regenerate tests/fixtures/models/: tiny diffusers 0.24.0 spectrogram-diffusion modules and their outputs.

Run with the reference environment only (never imported by the tests):

    refenv/bin/python tests/reference/make_model_fixtures.py [OUT_DIR]

It builds ``SpectrogramNotesEncoder``, ``SpectrogramContEncoder`` and ``T5FilmDecoder`` with a tiny
config whose attention width (3 x 4 = 12) differs from d_model (16), overwrites EVERY tensor (norm
scales and position tables included) with seeded random values so that a wrong key mapping cannot
pass, saves them in the hub layout of google/music-spectrogram-diffusion (pickled .bin, as the hub),
and records in ``diffusers_tiny_cases.npz``:

* ``tokens`` (2, 2048), ``notes_mask``, ``notes_enc`` (first 160 rows: all valid rows);
* ``context`` (2, 256, 128) in [-1, 1], ``context_enc`` (mask all ones);
* decoder epsilon for ``x_t`` (2, 32, 128) at ``t_zero`` = 0 and ``t_mid`` = (0.3, 0.87), for the memories
  ``ctx`` (notes + context), ``noctx`` (context masked, the first segment), ``uncond`` (encodings and
  masks zeroed: the official unconditional pass) and ``notesonly`` (no context encoder at all);
* the DDPMScheduler alone (hub config) driven by eps = 0.5 * x for 100 steps (``sched_*``).

and in ``diffusers_tiny_pipeline.npz`` the log-mel output of ``SpectrogramDiffusionPipeline``
(100 steps, ``output_type="mel"``) for two segments of tokens with generator seed 1234.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler, SpectrogramDiffusionPipeline, T5FilmDecoder
from diffusers.pipelines.spectrogram_diffusion import SpectrogramContEncoder, SpectrogramNotesEncoder

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "models"
T5 = dict(d_model=16, num_heads=3, d_kv=4, d_ff=24, num_layers=2, dropout_rate=0.1,
          feed_forward_proj="gated-gelu")
SCHEDULER = dict(beta_schedule="squaredcos_cap_v2", num_train_timesteps=1000,
                 prediction_type="epsilon", variance_type="fixed_large", clip_sample=True,
                 clip_sample_range=1.0, beta_start=0.0001, beta_end=0.02)


def randomize(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Overwrite every parameter: norms ~ 1 + 0.3 N, tables/embeddings ~ N, linears ~ N / sqrt(fan_in)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.ndim == 1:
                p.copy_(1.0 + 0.3 * noise)
            elif "position_encoding" in name or "token_embedder" in name:
                p.copy_(noise)
            else:
                p.copy_(noise / math.sqrt(p.shape[1]))


def main() -> None:
    global OUT
    if len(sys.argv) > 1:  # optional output folder, e.g. to check that regeneration is exact
        OUT = Path(sys.argv[1])
        OUT.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(20240521)
    notes = SpectrogramNotesEncoder(max_length=2048, vocab_size=1536, **T5).eval()
    cont = SpectrogramContEncoder(input_dims=128, targets_context_length=256, **T5).eval()
    dec = T5FilmDecoder(input_dims=128, targets_length=256, max_decoder_noise_time=20000.0,
                        d_model=16, num_layers=2, num_heads=3, d_kv=4, d_ff=24,
                        dropout_rate=0.1).eval()
    for module in (notes, cont, dec):
        randomize(module, gen)

    folder = OUT / "diffusers_tiny"
    shutil.rmtree(folder, ignore_errors=True)
    notes.save_pretrained(folder / "notes_encoder", safe_serialization=False)
    cont.save_pretrained(folder / "continuous_encoder", safe_serialization=False)
    dec.save_pretrained(folder / "decoder", safe_serialization=False)
    scheduler = DDPMScheduler(**SCHEDULER)
    scheduler.save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "SpectrogramDiffusionPipeline", "_diffusers_version": "0.24.0",
        "notes_encoder": ["spectrogram_diffusion", "SpectrogramNotesEncoder"],
        "continuous_encoder": ["spectrogram_diffusion", "SpectrogramContEncoder"],
        "decoder": ["diffusers", "T5FilmDecoder"], "scheduler": ["diffusers", "DDPMScheduler"],
        "melgan": [None, None]}, indent=2) + "\n")

    # ---- fixed inputs
    tokens = torch.zeros(2, 2048, dtype=torch.long)
    tokens[0, :40] = torch.randint(1, 1536, (40,), generator=gen)
    tokens[1, :150] = torch.randint(1, 1536, (150,), generator=gen)
    context = torch.rand(2, 256, 128, generator=gen) * 2 - 1
    x_t = torch.randn(2, 32, 128, generator=gen)
    t_zero = torch.zeros(2)
    t_mid = torch.tensor([0.3, 0.87])
    ones = torch.ones(2, 256, dtype=torch.bool)
    zeros = torch.zeros(2, 256, dtype=torch.bool)

    cases: dict[str, np.ndarray] = {}
    with torch.no_grad():
        enc, mask = notes(encoder_input_tokens=tokens, encoder_inputs_mask=tokens > 0)
        # diffusers' context encoder only runs with batch 1 (its roll needs one shift): row by row
        ctx = torch.cat([cont(encoder_inputs=context[i:i + 1], encoder_inputs_mask=ones[i:i + 1])[0]
                         for i in range(2)])
        ctx0 = torch.cat([cont(encoder_inputs=torch.zeros_like(context[i:i + 1]),
                               encoder_inputs_mask=zeros[i:i + 1])[0] for i in range(2)])
        memories = {
            "ctx": [(enc, mask), (ctx, ones)],
            "noctx": [(enc, mask), (ctx0, zeros)],
            "uncond": [(enc * 0, mask & False), (ctx0 * 0, zeros)],
            "notesonly": [(enc, mask)],
        }
        for mem_name, memory in memories.items():
            for t_name, t in (("zero", t_zero), ("mid", t_mid)):
                out = dec(encodings_and_masks=memory, decoder_input_tokens=x_t, decoder_noise_time=t)
                cases[f"eps_{mem_name}_{t_name}"] = out.numpy()

        # the scheduler alone, driven by an analytic "model"
        sched = DDPMScheduler(**SCHEDULER)
        sched.set_timesteps(100)
        sgen = torch.Generator().manual_seed(7)
        x = torch.randn(2, 4, 8, generator=sgen)
        cases["sched_x_init"] = x.numpy()
        for t in sched.timesteps:
            x = sched.step(0.5 * x, t, x, generator=sgen).prev_sample
        cases["sched_x_final"] = x.numpy()
        cases["sched_timesteps"] = sched.timesteps.numpy()
        cases["sched_alphas_cumprod"] = sched.alphas_cumprod.numpy()

    cases.update(tokens=tokens.numpy(), notes_mask=mask.numpy(), notes_enc=enc[:, :160].numpy(),
                 context=context.numpy(), context_enc=ctx.numpy(), x_t=x_t.numpy(),
                 t_zero=t_zero.numpy(), t_mid=t_mid.numpy())
    np.savez(OUT / "diffusers_tiny_cases.npz", **cases)

    # ---- diffusers' own pipeline, 100 DDPM steps, two segments
    pipe = SpectrogramDiffusionPipeline(notes_encoder=notes, continuous_encoder=cont, decoder=dec,
                                        scheduler=DDPMScheduler(**SCHEDULER), melgan=None)
    pipe.set_progress_bar_config(disable=True)
    segments = torch.zeros(2, 2048, dtype=torch.long)
    segments[0, :60] = torch.randint(1, 1536, (60,), generator=gen)
    segments[1, :25] = torch.randint(1, 1536, (25,), generator=gen)
    mel = pipe(input_tokens=segments.tolist(), generator=torch.Generator().manual_seed(1234),
               num_inference_steps=100, output_type="mel").audios
    np.savez(OUT / "diffusers_tiny_pipeline.npz", tokens=segments.numpy(), seed=np.int64(1234),
             steps=np.int64(100), mel=np.asarray(mel, dtype=np.float32))
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>9}  {path.relative_to(OUT)}")


if __name__ == "__main__":
    main()
