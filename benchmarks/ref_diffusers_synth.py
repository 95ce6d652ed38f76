"""Reference side of bench_synth.py: diffusers 0.24's SpectrogramDiffusionPipeline, timed.

Run in the reference environment (diffusers 0.24.0), never in tests:

    refenv/bin/python benchmarks/ref_diffusers_synth.py CONFIG TOKENS.json STEPS OUT_DIR

Builds the diffusers modules of a size of the ladder (small or base) with seeded random weights,
saves them in the hub layout under OUT_DIR (so specdiff loads the very same weights), runs the
pipeline (DDPM, STEPS steps, no guidance, mel output, no vocoder) on the token segments of
TOKENS.json, and prints one JSON line: {"seconds": ..., "segments": ...}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler, SpectrogramDiffusionPipeline, T5FilmDecoder
from diffusers.pipelines.spectrogram_diffusion import (
    SpectrogramContEncoder,
    SpectrogramNotesEncoder,
)

SIZES = {
    "small": dict(d_model=512, num_heads=6, d_kv=64, d_ff=1024, num_layers=8),
    "base": dict(d_model=768, num_heads=12, d_kv=64, d_ff=2048, num_layers=12),
}
SCHEDULER = dict(beta_schedule="squaredcos_cap_v2", num_train_timesteps=1000,
                 prediction_type="epsilon", variance_type="fixed_large", clip_sample=True,
                 clip_sample_range=1.0, beta_start=0.0001, beta_end=0.02)


def main() -> None:
    size, tokens_path, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    torch.manual_seed(0)
    t5 = dict(**SIZES[size], dropout_rate=0.1, feed_forward_proj="gated-gelu")
    notes = SpectrogramNotesEncoder(max_length=2048, vocab_size=1536, **t5).eval()
    cont = SpectrogramContEncoder(input_dims=128, targets_context_length=256, **t5).eval()
    t5.pop("feed_forward_proj")
    dec = T5FilmDecoder(input_dims=128, targets_length=256, max_decoder_noise_time=20000.0,
                        **t5).eval()
    notes.save_pretrained(out / "notes_encoder", safe_serialization=False)
    cont.save_pretrained(out / "continuous_encoder", safe_serialization=False)
    dec.save_pretrained(out / "decoder", safe_serialization=False)
    DDPMScheduler(**SCHEDULER).save_pretrained(out / "scheduler")
    pipe = SpectrogramDiffusionPipeline(notes_encoder=notes, continuous_encoder=cont, decoder=dec,
                                        scheduler=DDPMScheduler(**SCHEDULER), melgan=None)
    pipe.set_progress_bar_config(disable=True)
    segments = json.loads(Path(tokens_path).read_text())
    padded = [s + [0] * (2048 - len(s)) for s in segments]
    start = time.perf_counter()
    pipe(input_tokens=padded, generator=torch.Generator().manual_seed(0),
         num_inference_steps=steps, output_type="mel")
    print(json.dumps({"seconds": time.perf_counter() - start, "segments": len(segments)}))


if __name__ == "__main__":
    main()
