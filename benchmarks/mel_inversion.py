"""Where mel inversion loses transcription accuracy: the spectrogram's magnitude or the phase.

The quality benchmark (``benchmarks/quality.py``) scores "ground truth encoded" (the original's
log-mel through a vocoder) well below the original on basic-pitch onset F1. This splits that loss
on the same held-out pieces, all in one run:

* **original**: the FluidSynth audio;
* **mel magnitude, true phase**: linear magnitudes recovered from the official log-mel
  (``mel_to_linear``, NNLS) with the original's own STFT phase: what a perfect phase would give;
* **Griffin-Lim, hop 320**: specdiff's ``GriffinLim`` (the mel's own framing, 48 iterations);
* **Griffin-Lim, hop 80**: the same magnitudes interpolated to a 4x finer hop (4x more
  overlap, 8 frames per 640-sample window), 64 fast Griffin-Lim iterations from random phase;
* **specdiff vocoder, network only**: the shipped neural vocoder without its last stage;
* **specdiff vocoder**: the shipped neural vocoder as it runs by default: the network, then
  ``refine_phase`` (a few fast Griffin-Lim steps at hop 80 starting from the network's phase),
  then ``refine_low_band`` (many more steps for the bins below ~190 Hz, at 1 kHz).

Last, an oracle that says where the rest is: **the shipped vocoder with the original's band
below 300 Hz** (a raised-cosine crossover 40 Hz wide swaps in the original's low band).

It also reports each system's **50 Hz comb share** (``frame_rate_comb``): how much of the
power below 625 Hz sits on multiples of the 50 Hz frame rate. A vocoder whose frames restart
their phase repeats itself every hop, a buzz that a transcriber hears as low or mistuned notes.

    python benchmarks/mel_inversion.py --corpus corpus/rendered [--files 12] [--seconds 10.24]
        [--split validation] [--refine 0,2,2+32,2+64]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep this folder off the import path (a sibling tokenize.py would shadow the stdlib module).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse
import importlib.util
import time

import numpy as np
import soundfile as sf
import torch

from specdiff.audio import DEFAULT_MEL, SAMPLE_RATE, log_mel, stft
from specdiff.evaluation import BasicPitchTranscriber, midi_reference_notes, note_scores
from specdiff.vocoders import GriffinLim, load_vocoder
from specdiff.vocoders.griffin_lim import (
    FINE_HOP,
    fast_griffin_lim,
    fine_magnitudes,
    istft,
    mel_to_linear,
)
from specdiff.vocoders.neural import LOW_BAND_ITERATIONS, REFINE_ITERATIONS


def _quality_module():
    spec = importlib.util.spec_from_file_location("quality_benchmark", HERE / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def true_phase(audio: np.ndarray, mel: torch.Tensor) -> np.ndarray:
    """The mel's NNLS magnitudes with the phase of the original's STFT (same framing)."""
    spec = stft(torch.from_numpy(audio)[None], DEFAULT_MEL)  # (1, T', F)
    magnitude = mel_to_linear(mel[None], DEFAULT_MEL)  # (1, T, F)
    frames = min(spec.shape[1], magnitude.shape[1])
    spec, magnitude = spec[:, :frames], magnitude[:, :frames]
    return istft(magnitude * spec / (spec.abs() + 1e-16), DEFAULT_MEL)[0].numpy()


def griffin_lim_fine(mel: torch.Tensor, length: int, iters: int = 64, momentum: float = 0.99,
                     seed: int = 0) -> np.ndarray:
    """Fast Griffin-Lim on a hop-80 STFT (Hann 640, 1024-point FFT, centred) whose magnitudes
    are the mel's NNLS magnitudes interpolated linearly in time (``fine_magnitudes``)."""
    magnitude = fine_magnitudes(mel[None], length, FINE_HOP, nnls_iter=32)[0]  # (F, frames)
    window = torch.hann_window(DEFAULT_MEL.win_length)

    def forward(x):
        return torch.stft(x, DEFAULT_MEL.n_fft, FINE_HOP, DEFAULT_MEL.win_length, window,
                          return_complex=True)

    def inverse(spec):
        return torch.istft(spec, DEFAULT_MEL.n_fft, FINE_HOP, DEFAULT_MEL.win_length, window,
                           length=length)

    generator = torch.Generator().manual_seed(seed)
    angles = torch.polar(torch.ones_like(magnitude),
                         2 * np.pi * torch.rand(magnitude.shape, generator=generator))
    return fast_griffin_lim(magnitude, angles, forward, inverse, iters, momentum).numpy()


def with_low_band_of(audio: np.ndarray, source: np.ndarray, cutoff: float = 300.0,
                     width: float = 40.0) -> np.ndarray:
    """``audio`` with its band below ``cutoff`` Hz replaced by ``source``'s (same length; a
    raised-cosine crossover ``width`` Hz wide)."""
    freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    ramp = np.clip((cutoff + width / 2 - freqs) / width, 0.0, 1.0)
    low = 0.5 - 0.5 * np.cos(np.pi * ramp)  # 1 below the crossover, 0 above
    mixed = np.fft.rfft(audio) * (1 - low) + np.fft.rfft(source) * low
    return np.fft.irfft(mixed, len(audio)).astype(np.float32)


def frame_rate_comb(audio: np.ndarray, hop: int = 320, max_hz: float = 625.0) -> float:
    """Share of the power between hop-rate/2 and ``max_hz`` that lies within 2.5 Hz of a
    multiple of the frame rate (50 Hz): ~0.1 for a flat spectrum, more for audio that repeats
    itself every hop (a vocoder whose frames restart their phase). Power is averaged over
    8192-point Hann frames (2 Hz resolution)."""
    size, rate = 8192, SAMPLE_RATE / hop
    if len(audio) < size:
        return float("nan")
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::size // 4]
    power = (np.abs(np.fft.rfft(frames * np.hanning(size), axis=-1)) ** 2).mean(0)
    freqs = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    band = (freqs > rate / 2) & (freqs < max_hz)
    distance = np.abs(freqs - rate * np.round(freqs / rate))
    return float(power[band & (distance < 2.5)].sum() / max(power[band].sum(), 1e-20))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="a `specdiff render` corpus")
    p.add_argument("--files", type=int, default=12, help="files of --split (default 12)")
    p.add_argument("--seconds", type=float, default=10.24, help="audio per file (default 10.24)")
    p.add_argument("--split", default="test")
    p.add_argument("--vocoder", default="specdiff", help="the neural vocoder (default: shipped)")
    default = f"{REFINE_ITERATIONS}+{LOW_BAND_ITERATIONS}"
    p.add_argument("--refine", default=f"0,{REFINE_ITERATIONS},{default}",
                   help="comma list of settings to score the neural vocoder with: R (R "
                   "refine_phase steps) or R+L (then L refine_low_band steps); 0 is the network "
                   f"alone (default 0,{REFINE_ITERATIONS},{default}; {default} is shipped)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    quality = _quality_module()
    griffin_lim = GriffinLim()
    vocoders = {}
    for setting in args.refine.split(","):
        steps, _, low = setting.partition("+")
        steps, low = int(steps), int(low or 0)
        name = ("specdiff vocoder, network only" if steps == low == 0 else
                f"specdiff vocoder (+{steps} steps at hop 80"
                + (f", +{low} on the low band" if low else "")
                + (", shipped)" if (steps, low) == (REFINE_ITERATIONS, LOW_BAND_ITERATIONS)
                   else ")"))
        vocoders[name] = load_vocoder(args.vocoder, refine_iterations=steps,
                                      low_band_iterations=low)
    transcriber = BasicPitchTranscriber(threads=args.threads)
    shipped = load_vocoder(args.vocoder)
    oracle = "shipped vocoder, the original's band below 300 Hz (oracle)"
    systems = {
        "original": lambda audio, mel, n: audio,
        "mel magnitude, true phase": lambda audio, mel, n: true_phase(audio, mel),
        "Griffin-Lim, hop 320 (48 iterations)": lambda audio, mel, n: griffin_lim(mel).numpy(),
        "Griffin-Lim, hop 80 (64 iterations)": lambda audio, mel, n: griffin_lim_fine(mel, n),
        **{name: (lambda audio, mel, n, v=v: v(mel).numpy()) for name, v in vocoders.items()},
        oracle: lambda audio, mel, n: with_low_band_of(shipped(mel).numpy()[:n], audio),
    }
    f1: dict[str, list[float]] = {name: [] for name in systems}
    comb: dict[str, list[float]] = {name: [] for name in systems}
    seconds: dict[str, float] = dict.fromkeys(systems, 0.0)
    files = quality.held_out_files(args.corpus, args.split, args.files)
    for index, entry in enumerate(files):
        audio, rate = sf.read(str(args.corpus / entry["audio"]), dtype="float32")
        assert rate == SAMPLE_RATE, (entry["audio"], rate)
        n = min(len(audio), round(args.seconds * SAMPLE_RATE))
        audio = audio[:n]
        reference = midi_reference_notes(args.corpus / entry["midi"], n / SAMPLE_RATE)
        if not len(reference):
            continue
        mel = log_mel(audio)
        for name, make in systems.items():
            start = time.perf_counter()
            out = make(audio, mel, n)
            seconds[name] += time.perf_counter() - start
            out = np.pad(out[:n], (0, max(0, n - len(out))))
            f1[name].append(note_scores(reference, transcriber.transcribe(out, SAMPLE_RATE))["onset_f1"])
            comb[name].append(frame_rate_comb(out))
        print(f"[{index + 1}/{len(files)}] {entry['id']}: "
              + ", ".join(f"{v[-1]:.2f}" for v in f1.values()), flush=True)

    original = float(np.mean(f1["original"]))
    audio_seconds = len(f1["original"]) * args.seconds
    print(f"\n{len(f1['original'])} files x {args.seconds} s, threads {args.threads}\n")
    print("| system | onset F1 | / original | 50 Hz comb share | x real time |\n"
          "|---|---|---|---|---|")
    for name, values in f1.items():
        speed = "-" if name in ("original", oracle) else f"{audio_seconds / max(seconds[name], 1e-9):.0f}"
        print(f"| {name} | {np.mean(values):.3f} | {np.mean(values) / original:.2f} "
              f"| {np.nanmean(comb[name]):.3f} | {speed} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
