"""specdiff.diffusion: noise schedules, samplers and guidance as pure functions."""
