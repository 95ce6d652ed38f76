"""The paper's model sizes and the same networks built from diffusers 0.24.0's modules.

Shared by the benchmarks that compare specdiff with diffusers (run under the reference
environment, ``refenv``, which has diffusers; specdiff's side does not import this module's
diffusers part).
"""

from __future__ import annotations

SIZES = {  # d_model, heads, head_dim, d_ff, layers (model.md §2)
    "tiny": (32, 4, 8, 64, 2),
    "small": (512, 6, 64, 1024, 8),
    "base": (768, 12, 64, 2048, 12),
}
REFENV = "refenv/bin/python"


def build_diffusers_modules(config: str, train: bool):
    """(notes encoder, context encoder, FiLM decoder) of size ``config``, random weights (seed 0),
    in train or eval mode."""
    import torch
    from diffusers import T5FilmDecoder
    from diffusers.pipelines.spectrogram_diffusion import (
        SpectrogramContEncoder,
        SpectrogramNotesEncoder,
    )

    d, heads, dh, ff, layers = SIZES[config]
    t5 = dict(d_model=d, num_heads=heads, d_kv=dh, d_ff=ff, num_layers=layers, dropout_rate=0.1,
              feed_forward_proj="gated-gelu")
    torch.manual_seed(0)
    notes = SpectrogramNotesEncoder(max_length=2048, vocab_size=1536, **t5)
    cont = SpectrogramContEncoder(input_dims=128, targets_context_length=256, **t5)
    dec = T5FilmDecoder(input_dims=128, targets_length=256, max_decoder_noise_time=20000.0,
                        d_model=d, num_layers=layers, num_heads=heads, d_kv=dh, d_ff=ff,
                        dropout_rate=0.1)
    return tuple(m.train(train) for m in (notes, cont, dec))
