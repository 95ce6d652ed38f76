"""specdiff.models: T5 blocks, notes/context encoders, FiLM diffusion decoder, AR decoder."""
