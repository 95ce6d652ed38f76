"""Are a cache's training windows' tokens aligned with their spectrograms?

For random validation windows of a ``specdiff prepare`` cache: the window's tokens are decoded back
to notes, their onsets marked on the 20 ms frame grid (smoothed over 3 frames), and correlated with
the spectral flux of the window's log-mel (the summed positive frame-to-frame change). Each window
is also scored against the onsets of another window: a pipeline that pairs tokens with the wrong
audio, or shifts them in time, scores the same for both.

    python scripts/window_alignment.py --cache corpus/cache --windows 60
"""

from __future__ import annotations

import argparse

import numpy as np


def onset_track(tokens: np.ndarray, num_frames: int, frame_seconds: float) -> np.ndarray:
    """Onsets per frame of one window's token segment, smoothed over 3 frames."""
    from specdiff.codec.decode import decode_tokens

    onsets = np.zeros(num_frames)
    for start in decode_tokens([tokens]).start:
        frame = int(round(start / frame_seconds))
        if 0 <= frame < num_frames:
            onsets[frame] += 1
    return np.convolve(onsets, np.ones(3), "same")


def spectral_flux(mel: np.ndarray) -> np.ndarray:
    """Summed positive change of a (T, n_mels) log-mel into each frame (0 for the first)."""
    return np.concatenate([[0.0], np.maximum(np.diff(mel, axis=0), 0).sum(1)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", default="corpus/cache")
    p.add_argument("--split", default="validation")
    p.add_argument("--windows", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from specdiff.data import CacheDataset, CacheReader, WindowConfig

    config = WindowConfig()
    dataset = CacheDataset(CacheReader(args.cache), [args.split], None, config)
    rng = np.random.default_rng(args.seed)
    indices = rng.integers(len(dataset), size=args.windows)
    frame_seconds = config.hop_length / config.codec.sample_rate
    windows = [dataset[int(i)] for i in indices]
    onsets = [onset_track(w["tokens"].numpy(), config.num_frames, frame_seconds) for w in windows]
    own, other = [], []
    for i, window in enumerate(windows):
        flux = spectral_flux(window["target"].numpy())
        foreign = onsets[(i + 1) % len(windows)]
        if onsets[i].any() and foreign.any():
            own.append(np.corrcoef(flux, onsets[i])[0, 1])
            other.append(np.corrcoef(flux, foreign)[0, 1])
    print(f"{args.cache} ({args.split}): {len(own)} windows with onsets")
    print(f"correlation of spectral flux with the window's own onsets: {np.mean(own):.3f}")
    print(f"... with another window's onsets: {np.mean(other):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
