"""Vocoder speed and quality: specdiff's Griffin-Lim vs librosa's mel_to_audio, and specdiff's
neural vocoder stage by stage, same run.

Renders a 60 s multi-instrument MIDI file with Debian FluidSynth (TimGM6mb), takes its official
log-mel, vocodes it with specdiff's GriffinLim and with ``librosa.feature.inverse.mel_to_audio``
(the same iteration count, momentum 0.99 as librosa's default, HTK mel without norm, 640/320/1024 framing), and prints the
real-time factor (seconds of compute per second of audio) of each, their ratio, and the spectral
convergence of the result's mel magnitudes (each measured with its own front end). Then
specdiff's neural vocoder on the same mel, best of ``--repeats`` calls each: the network alone,
plus ``refine_phase``, plus ``refine_low_band`` (the shipped default); the issue asks for at
least 50x real time on this machine.

    python benchmarks/bench_vocoders.py [--seconds 60] [--iters 48] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from specdiff.audio import load_audio, log_mel
from specdiff.data.notes import make_notes
from specdiff.evaluation import write_notes_midi
from specdiff.vocoders import GriffinLim, load_vocoder
from specdiff.vocoders.neural import LOW_BAND_ITERATIONS, REFINE_ITERATIONS

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def write_song(path: Path, seconds: float, seed: int = 0) -> None:
    """A random 120 bpm piece: piano chords, a string line, bass, and drums."""
    rng = np.random.default_rng(seed)
    rows = []  # (start s, end s, pitch, velocity, program, is_drum); a beat is 0.5 s
    root = 60
    for beat in range(int(seconds * 2)):
        t = beat * 0.5
        if beat % 4 == 0:
            root = 55 + int(rng.integers(0, 10))
            rows += [(t, t + 1.875, pitch, 80, 0, False) for pitch in (root, root + 4, root + 7)]
            rows.append((t, t + 1900 / 960, root - 24, 90, 33, False))
        melody = root + 12 + int(rng.choice([0, 2, 4, 5, 7, 9]))
        rows.append((t, t + 470 / 960, melody, 70, 48, False))
        rows.append((t, t + 100 / 960, 36 if beat % 2 == 0 else 38, 100, 0, True))
    write_notes_midi(make_notes(rows), path)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    n = min(reference.shape[-2], estimate.shape[-2])
    reference, estimate = reference[..., :n, :], estimate[..., :n, :]
    return float(torch.linalg.norm(reference - estimate) / torch.linalg.norm(reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--iters", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-librosa", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="neural vocoder: best of N")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if shutil.which("fluidsynth") is None:
        raise SystemExit("needs Debian fluidsynth and timgm6mb-soundfont")
    with tempfile.TemporaryDirectory() as tmp:
        write_song(Path(tmp) / "song.mid", args.seconds)
        subprocess.run(["fluidsynth", "-ni", "-q", "-r", "16000", "-F", f"{tmp}/song.wav",
                        SOUNDFONT, f"{tmp}/song.mid"], check=True, timeout=300)
        audio = load_audio(f"{tmp}/song.wav")
    duration = audio.size / 16000
    mel = log_mel(torch.from_numpy(audio))[None]  # (1, T, 128)
    print(f"audio {duration:.1f} s, {mel.shape[1]} frames, torch threads {args.threads}, "
          f"{args.iters} iterations, momentum 0.99")

    vocoder = GriffinLim(n_iter=args.iters)
    vocoder(mel[:, :50])  # warm-up
    start = time.perf_counter()
    ours = vocoder(mel)
    ours_s = time.perf_counter() - start
    ours_sc = spectral_convergence(mel.exp(), log_mel(ours).exp())
    print(f"specdiff GriffinLim      : {ours_s:7.2f} s  RTF {ours_s / duration:.4f}  "
          f"mel SC {ours_sc:.4f}")

    for refine, low in ((0, 0), (REFINE_ITERATIONS, 0), (REFINE_ITERATIONS, LOW_BAND_ITERATIONS)):
        neural = load_vocoder("specdiff", refine_iterations=refine, low_band_iterations=low)
        neural(mel[:, :50])  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = neural(mel)
            times.append(time.perf_counter() - start)
        sc = spectral_convergence(mel.exp(), log_mel(out).exp())
        label = f"specdiff neural +{refine}+{low}".ljust(25)
        print(f"{label}: {min(times):7.2f} s  RTF {min(times) / duration:.4f}  "
              f"{duration / min(times):6.1f}x real time  mel SC {sc:.4f}")

    if args.skip_librosa:
        return
    import librosa

    start = time.perf_counter()
    theirs = librosa.feature.inverse.mel_to_audio(
        mel[0].exp().numpy().T, sr=16000, n_fft=1024, hop_length=320, win_length=640,
        window="hann", center=False, power=1.0, n_iter=args.iters, htk=True,
        norm=None, fmin=0.0, fmax=8000.0,
    )
    theirs_s = time.perf_counter() - start
    # librosa's output is framed its own way (window centred in the FFT, linear-in-Hz triangles),
    # so its quality is measured with its own front end against the mel it was given.
    again = librosa.feature.melspectrogram(
        y=theirs, sr=16000, n_fft=1024, hop_length=320, win_length=640, center=False, power=1.0,
        n_mels=128, htk=True, norm=None, fmin=0.0, fmax=8000.0,
    )
    theirs_sc = spectral_convergence(mel.exp(), torch.from_numpy(again.T)[None].float())
    print(f"librosa mel_to_audio     : {theirs_s:7.2f} s  RTF {theirs_s / duration:.4f}  "
          f"mel SC {theirs_sc:.4f}")
    print(f"speed-up specdiff/librosa: {theirs_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
