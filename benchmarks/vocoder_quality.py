"""Vocoder quality and speed on held-out rendered audio: ground truth vs specdiff's neural
vocoder vs Griffin-Lim, in the same run.

For each test-split file of a ``specdiff render`` corpus (pieces never seen in training), the
first ``--seconds`` of audio are encoded with the official log-mel and decoded by each vocoder.
Printed per system: log-mel L1 and multi-resolution STFT distance against the original,
basic-pitch note onset F1 (and onset+offset F1) against the MIDI (pitched notes only), and the
real-time factor of vocoding (audio seconds per wall second and per CPU second of this process).

    python benchmarks/vocoder_quality.py --corpus /work/corpus/rendered [--files 12]
        [--seconds 20] [--vocoder specdiff/assets/vocoder.safetensors] [--threads 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep this folder off the import path (a sibling tokenize.py would shadow the stdlib module).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import time

import numpy as np
import soundfile as sf
import torch

from specdiff.audio import SAMPLE_RATE, log_mel
from specdiff.evaluation import (
    BasicPitchTranscriber,
    log_mel_l1,
    midi_reference_notes,
    multi_resolution_stft_distance,
    note_scores,
)
from specdiff.vocoders import GriffinLim, load_vocoder


def test_files(corpus: Path, split: str, count: int) -> list[dict]:
    entries = []
    for line in (corpus / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["split"] == split and (corpus / entry["audio"]).is_file():
            entries.append(entry)
    entries.sort(key=lambda e: e["id"])
    # Spread the choice over sources (ids start with music21/, mma/, procedural/).
    by_source: dict[str, list[dict]] = {}
    for e in entries:
        by_source.setdefault(e["id"].split("/")[0], []).append(e)
    chosen: list[dict] = []
    while len(chosen) < count and any(by_source.values()):
        for items in by_source.values():
            if items and len(chosen) < count:
                chosen.append(items.pop(0))
    return chosen


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus/rendered"))
    p.add_argument("--split", default="test")
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--vocoder", default="specdiff", help="name or .safetensors path")
    p.add_argument("--gl-iters", type=int, default=48)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-transcription", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    systems = {"specdiff vocoder": load_vocoder(args.vocoder),
               "griffin-lim": GriffinLim(n_iter=args.gl_iters)}
    transcriber = None if args.no_transcription else BasicPitchTranscriber(threads=args.threads)
    rows: dict[str, dict[str, list[float]]] = {n: {} for n in ["ground truth", *systems]}
    seconds = 0.0
    files = test_files(args.corpus, args.split, args.files)
    if not files:
        raise SystemExit(f"no {args.split} files in {args.corpus}")
    for entry in files:
        audio, rate = sf.read(str(args.corpus / entry["audio"]), dtype="float32")
        assert rate == SAMPLE_RATE
        audio = audio[: int(args.seconds * SAMPLE_RATE)]
        seconds += len(audio) / SAMPLE_RATE
        mel = log_mel(audio)  # (T, 128)
        outputs = {"ground truth": (audio, 0.0, 0.0)}
        for name, vocoder in systems.items():
            out, wall, cpu = timed(vocoder, mel)
            outputs[name] = (out.numpy()[: len(audio)], wall, cpu)
        reference = None
        if transcriber is not None:
            reference = midi_reference_notes(args.corpus / entry["midi"], len(audio) / SAMPLE_RATE)
        for name, (out, wall, cpu) in outputs.items():
            row = rows[name]
            row.setdefault("wall", []).append(wall)
            row.setdefault("cpu", []).append(cpu)
            row.setdefault("log_mel_l1", []).append(log_mel_l1(out, audio))
            row.setdefault("mrstft", []).append(multi_resolution_stft_distance(out, audio)["mrstft"])
            if reference is not None and len(reference):
                scores = note_scores(reference, transcriber.transcribe(out, SAMPLE_RATE))
                row.setdefault("onset_f1", []).append(scores["onset_f1"])
                row.setdefault("onset_offset_f1", []).append(scores["onset_offset_f1"])
        print(f"{entry['id']}: " + ", ".join(
            f"{n} mel L1 {r['log_mel_l1'][-1]:.3f}" for n, r in rows.items()), flush=True)

    summary = {}
    for name, row in rows.items():
        s = {k: float(np.mean(v)) for k, v in row.items() if k not in ("wall", "cpu")}
        if name != "ground truth":
            s["rtf_wall"] = seconds / sum(row["wall"])
            s["rtf_cpu"] = seconds / max(sum(row["cpu"]), 1e-9)
        summary[name] = s
    print(f"\n{len(files)} held-out files, {seconds:.0f} s of audio, corpus {args.corpus}, "
          f"threads {args.threads}, load average {os.getloadavg()[0]:.1f}\n")
    print("| system | log-mel L1 | MR-STFT | onset F1 | onset+offset F1 | x real time (wall) "
          "| x real time (CPU s) |")
    print("|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        cells = [f"{s['log_mel_l1']:.3f}", f"{s['mrstft']:.3f}",
                 f"{s.get('onset_f1', float('nan')):.3f}",
                 f"{s.get('onset_offset_f1', float('nan')):.3f}",
                 f"{s['rtf_wall']:.0f}" if "rtf_wall" in s else "-",
                 f"{s['rtf_cpu']:.0f}" if "rtf_cpu" in s else "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    ours, gl, gt = summary["specdiff vocoder"], summary["griffin-lim"], summary["ground truth"]
    print(f"\nratios: log-mel L1 ours/GL {ours['log_mel_l1'] / gl['log_mel_l1']:.2f}, "
          f"MR-STFT ours/GL {ours['mrstft'] / gl['mrstft']:.2f}")
    if "onset_f1" in gt:
        print(f"onset F1 ours/ground truth {ours['onset_f1'] / gt['onset_f1']:.2f}, "
              f"GL/ground truth {gl['onset_f1'] / gt['onset_f1']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
