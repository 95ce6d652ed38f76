"""Training samples per second: from the `specdiff prepare` cache vs computed on the fly from
the source files, in one run.

Corpus: mma songs (long multi-track pieces) rendered by FluidSynth (TimGM6mb) at 44.1 kHz
stereo into a MAESTRO-style layout (WAV + MIDI + maestro-v3.0.0.json), like a real corpus.
Sources of samples, all giving 5.12 s windows (tokens + scaled log-mel; "+ctx": also the
previous 5.12 s of log-mel):
  cache, mel store   CacheDataset on a `prepare --mel` cache (log-mel sliced, no STFT)
  cache, STFT        CacheDataset computing the log-mel per window from the cached 16 kHz audio
  cache, audio only  CacheDataset with features="audio" (log-mel left to the GPU)
  source, seek     the unofficial port's way: notes parsed once at start-up, each window read
                   by seeking in the native-rate file and resampling the chunk
  source, full     SourceDataset: decode + resample the file and parse its MIDI per sample
Single process, one thread, same random windows for every source, best of two passes.

    python benchmarks/data_cache.py --songs 4 --bars 96 --samples 40
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from specdiff.data import (
    CacheDataset,
    PrepareConfig,
    SourceDataset,
    WindowConfig,
    list_examples,
    load_notes,
    prepare_cache,
)
from specdiff.data.problems import Problems
from specdiff.data.source_mma import generate_mma
from specdiff.data.windows import make_sample

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def make_corpus(root: Path, songs: int, bars: int) -> None:
    midi_dir = root / "midi-src"
    generate_mma(midi_dir, songs, seed=1, bars=bars, progress=False)
    table = {k: {} for k in ("split", "audio_filename", "midi_filename")}
    for i, midi in enumerate(sorted(midi_dir.glob("*.mid"))):
        wav = root / "2018" / f"{midi.stem}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", "44100", "-T", "wav",
                        "-F", str(wav), SF2, str(midi)], check=True)
        (root / "2018" / f"{midi.stem}.midi").write_bytes(midi.read_bytes())
        table["split"][str(i)] = "train"
        table["audio_filename"][str(i)] = f"2018/{midi.stem}.wav"
        table["midi_filename"][str(i)] = f"2018/{midi.stem}.midi"
    (root / "maestro-v3.0.0.json").write_text(json.dumps(table))


class SeekDataset:
    """The port's on-the-fly reading: notes parsed once; audio window read at the native rate
    by seeking, averaged to mono, resampled, cropped/padded."""

    def __init__(self, examples, config: WindowConfig):
        self.examples, self.config = examples, config
        self.notes = [load_notes(e) for e in examples]  # "tokenize every file at start-up"

    def window(self, r: int, start_frame: int):
        path = self.examples[r].audio[0]
        info = sf.info(path)

        def read(start: int, length: int) -> np.ndarray:
            rate = info.samplerate
            lo = round(max(start, 0) * rate / 16000)
            frames = round(length * rate / 16000)
            data, _ = sf.read(path, start=lo, frames=frames, dtype="float32", always_2d=True)
            audio = soxr.resample(data.mean(axis=1), rate, 16000, quality="HQ")
            out = np.zeros(length, np.float32)
            shift = max(-start, 0)
            n = min(len(audio), length - shift)
            out[shift: shift + n] = audio[:n]
            return out

        return make_sample(read, self.notes[r], start_frame, self.config)


def rate(dataset, windows, repeats: int = 2) -> float:
    """Best of ``repeats`` passes over ``windows`` (samples/s); the first pass also warms the
    page cache and memory maps."""
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for r, s in windows:
            dataset.window(r, s)
        best = max(best, len(windows) / (time.perf_counter() - t))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--bars", type=int, default=96)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--full-samples", type=int, default=8,
                        help="samples for the slow full-decode source")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="specdiff-bench-") as tmp:
        root, cache = Path(tmp) / "maestro", Path(tmp) / "cache"
        t = time.perf_counter()
        make_corpus(root, args.songs, args.bars)
        examples = list_examples("maestro", root)
        secs = [sf.info(e.audio[0]).duration for e in examples]
        print(f"corpus: {len(examples)} files, {sum(secs) / 60:.1f} min at 44.1 kHz stereo "
              f"(made in {time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        report = prepare_cache(examples, cache, PrepareConfig(jobs=1, mel=True), Problems(),
                               False)
        prep = time.perf_counter() - t
        print(f"prepare: {report.items} items in {prep:.1f} s "
              f"({sum(secs) / prep:.0f}x real time)")
        rng = np.random.default_rng(0)
        results = []
        for context in (False, True):
            config = WindowConfig(context=context)
            cached = CacheDataset(cache, config=config)
            order = {(it.id): i for i, it in enumerate(cached.items)}
            direct_ex = [next(e for e in examples if e.id == it.id) for it in cached.items]
            windows = []
            for _ in range(args.samples):
                r = int(rng.integers(cached.num_recordings))
                top = max(0, -(-cached.num_samples(r) // 320) - 256)
                windows.append((r, int(rng.integers(top + 1))))
            tag = "+ctx" if context else ""
            results.append((f"cache, mel store{tag}", rate(cached, windows)))
            stft = CacheDataset(cache, config=config, use_mel_store=False)
            results.append((f"cache, STFT{tag}", rate(stft, windows)))
            audio_only = CacheDataset(cache, config=WindowConfig(context=context, features="audio"))
            results.append((f"cache, audio only{tag}", rate(audio_only, windows)))
            results.append((f"source, seek{tag}", rate(SeekDataset(direct_ex, config), windows)))
            lengths = [it.num_samples for it in cached.items]
            full = SourceDataset(direct_ex, config=config, lengths=lengths)
            results.append((f"source, full{tag}", rate(full, windows[: args.full_samples])))
            assert len(order) == cached.num_recordings
        table = dict(results)
        print("\n| samples from | samples/s | mel-store cache speed-up |")
        print("|---|---|---|")
        for name, value in results:
            ref = table["cache, mel store+ctx" if "+ctx" in name else "cache, mel store"]
            print(f"| {name} | {value:.1f} | {ref / value:.1f}x |")

if __name__ == "__main__":
    main()
