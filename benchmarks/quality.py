"""Synthesis quality on held-out rendered music: the original audio, ground truth encoded (true
mel -> specdiff's vocoder, and -> Griffin-Lim) and a diffusion model (fast and 1000-step samplers),
all scored the same way in one run.

For each chosen test-split file of a ``specdiff render`` corpus (pieces never heard in training),
the first ``--seconds`` of the piece are used: the FluidSynth audio is the original; the MIDI's
notes up to that time are synthesized by the model (whole-file pipeline, context chained).
Metrics against the original / the input MIDI:

* onset F1 and onset+offset F1 of basic-pitch's transcription vs the MIDI (mir_eval, pitched notes);
* log-mel L1 and multi-resolution STFT distance vs the original audio;
* Frechet distance between Gaussians fitted to all log-mel frames (128-d) of a system and of the
  originals ("Frechet mel distance"; a distribution score, unlike the paired L1);
* seam: mean frame-to-frame change of the output's log-mel at the joins between generated
  windows over the mean change everywhere (`specdiff.evaluation.seam_ratio`; 1 = no seam): at
  the 5.12 s segment joins, or for overlapping windows the larger of the values where the
  overlaps begin and where they end.

    python benchmarks/quality.py --corpus corpus/rendered [--files 12] [--seconds 10.24]
        [--min-seconds 60] [--model default] [--ddpm-files 4]
        [--systems original,gt-specdiff,gt-griffin-lim,model]
        [--sweep dpmpp_2m:20:0-1 dpmpp_2m:6:0.1-1::int8 ...]
        [--continuations none inpaint context+inpaint@16 ...]
        [--plot-dir docs/quality] [--json results.json]

``--seconds 0`` takes whole pieces; ``--min-seconds`` keeps only pieces at least that long.
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
from specdiff.codec import read_midi
from specdiff.data.rendered import read_manifest
from specdiff.demo.figure import render_figure
from specdiff.evaluation import (
    BasicPitchTranscriber,
    midi_reference_notes,
    multi_resolution_stft_distance,
    note_scores,
    seam_ratio,
)
from specdiff.evaluation.frechet import frechet_distance, gaussian_stats
from specdiff.vocoders import GriffinLim, load_vocoder

SYSTEMS = ("original", "gt-specdiff", "gt-griffin-lim", "model", "model-1000")
LABELS = {"original": "original (FluidSynth)", "gt-specdiff": "ground truth encoded, specdiff vocoder",
          "gt-griffin-lim": "ground truth encoded, Griffin-Lim", "model": "model, its bundle's settings",
          "model-1000": "model, DDPM 1000 steps, guidance at every step"}


def held_out_files(corpus: Path, split: str, count: int, min_seconds: float = 0.0
                   ) -> list[dict]:
    """``count`` files of ``split`` from the corpus manifest at least ``min_seconds`` long,
    alternating between sources (ids start with music21/, mma/, procedural/), in id order within
    each."""
    entries = sorted((e for e in read_manifest(corpus)
                      if e["split"] == split and (corpus / e["audio"]).is_file()
                      and sf.info(str(corpus / e["audio"])).duration >= min_seconds),
                     key=lambda e: e["id"])
    by_source: dict[str, list[dict]] = {}
    for e in entries:
        by_source.setdefault(e["id"].split("/")[0], []).append(e)
    chosen: list[dict] = []
    while len(chosen) < count and any(by_source.values()):
        for items in by_source.values():
            if items and len(chosen) < count:
                chosen.append(items.pop(0))
    return chosen


def clip_notes(notes, seconds: float):
    """The notes starting before ``seconds``, cut at it; total time = ``seconds``."""
    keep = notes.start < seconds
    clipped = notes.select(keep)
    return clipped.replace(end=np.minimum(clipped.end, seconds), total_time=seconds)


def parse_setting(spec: str) -> tuple[dict, str | None]:
    """``SAMPLER:STEPS[:LO-HI[:PRECISION]]`` -> (settings overrides, precision or None)."""
    parts = spec.split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise SystemExit(f"--sweep {spec}: expected SAMPLER:STEPS[:LO-HI[:PRECISION]]")
    overrides: dict = {"sampler": parts[0], "steps": int(parts[1])}
    if len(parts) > 2 and parts[2]:
        lo, hi = (float(v) for v in parts[2].split("-"))
        overrides["guidance_interval"] = (lo, hi)
    return overrides, (parts[3] if len(parts) > 3 and parts[3] else None)


def parse_continuation(spec: str) -> dict:
    """``CONTINUATION[@OVERLAP]`` -> settings overrides."""
    name, _, overlap = spec.partition("@")
    return {"continuation": name, **({"overlap": int(overlap)} if overlap else {})}


def seam_of(mel: np.ndarray, settings) -> float:
    """The seam of a piece made with ``settings``: at the 5.12 s joins, or, for overlapping
    windows, the larger of the seams where each overlap begins and where it ends."""
    from specdiff.bundle import INPAINTING
    from specdiff.evaluation import segment_joins

    if settings is None or settings.continuation not in INPAINTING:
        return seam_ratio(mel, segment_joins(len(mel)))
    hop = 256 - settings.overlap
    return max(seam_ratio(mel, segment_joins(len(mel), hop, 0)),
               seam_ratio(mel, segment_joins(len(mel), hop, settings.overlap)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path("corpus/rendered"))
    p.add_argument("--split", default="test")
    p.add_argument("--files", type=int, default=12)
    p.add_argument("--seconds", type=float, default=10.24,
                   help="seconds from each piece's start (0: the whole piece)")
    p.add_argument("--min-seconds", type=float, default=0.0,
                   help="only pieces at least this long")
    p.add_argument("--model", default="default",
                   help="'default' (the built-in model) or any `specdiff synth --model` source")
    p.add_argument("--vocoder", default="specdiff", help="name or .safetensors path")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {SYSTEMS}")
    p.add_argument("--ddpm-files", type=int, default=4,
                   help="files scored with the 1000-step sampler (the first ones; it is slow)")
    p.add_argument("--guidance", type=float, default=None,
                   help="default: the model's (3 for the built-in model, else 2)")
    p.add_argument("--gl-iters", type=int, default=48)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sweep", nargs="*", default=[], metavar="SAMPLER:STEPS[:LO-HI[:PRECISION]]",
                   help="more model rows, one per setting: sampler and steps, optionally a "
                        "guidance interval in noise time and a precision, e.g. dpmpp_3m:10, "
                        "dpmpp_2m:12:0.1-0.8, dpmpp_2m:20::int8")
    p.add_argument("--continuations", nargs="*", default=[], metavar="MODE[@OVERLAP]",
                   help="more model rows, one per continuation of the bundle's settings (and "
                        "overlap in frames), e.g. none inpaint context+inpaint@16")
    p.add_argument("--plot-dir", type=Path, default=None,
                   help="write model-vs-original spectrogram plots of the first two files here")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()

    from specdiff.bundle import with_quality
    from specdiff.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise SystemExit(f"unknown systems {unknown}; expected some of {SYSTEMS}")
    sweep = {f"model {spec}": parse_setting(spec) for spec in args.sweep}
    sweep.update({f"model {spec}": (parse_continuation(spec), None)
                  for spec in args.continuations})
    systems += list(sweep)
    LABELS.update({name: name for name in sweep})
    vocoder = load_vocoder(args.vocoder)
    griffin_lim = GriffinLim(n_iter=args.gl_iters)
    source = None if args.model == "default" else args.model
    synthesizers: dict[str, Synthesizer] = {}

    def synthesizer(precision: str | None = None) -> Synthesizer:
        """One synthesizer per precision (the bundle's for None), made when first needed."""
        key = precision or "bundle"
        if key not in synthesizers:
            synthesizers[key] = Synthesizer.from_pretrained(source, vocoder=vocoder,
                                                            precision=precision)
        return synthesizers[key]

    if any(s.startswith("model") for s in systems) and args.guidance is None:
        args.guidance = synthesizer().settings.sampling.guidance
    transcriber = BasicPitchTranscriber(threads=args.threads)
    files = held_out_files(args.corpus, args.split, args.files, args.min_seconds)
    if not files:
        raise SystemExit(f"no {args.split} files in {args.corpus}")

    scores: dict[str, dict[str, list[float]]] = {s: {} for s in systems}
    frames: dict[str, list[np.ndarray]] = {s: [] for s in systems}
    times: dict[str, float] = {s: 0.0 for s in systems}
    total_seconds: dict[str, float] = {s: 0.0 for s in systems}
    for index, entry in enumerate(files):
        audio, rate = sf.read(str(args.corpus / entry["audio"]), dtype="float32")
        assert rate == SAMPLE_RATE, (entry["audio"], rate)
        n = min(len(audio), round(args.seconds * SAMPLE_RATE)) if args.seconds else len(audio)
        audio = audio[:n]
        mel = log_mel(audio)
        notes = clip_notes(read_midi(args.corpus / entry["midi"]), n / SAMPLE_RATE)
        reference = midi_reference_notes(args.corpus / entry["midi"], n / SAMPLE_RATE)
        mels: dict[str, torch.Tensor] = {}
        for system in systems:
            if system == "model-1000" and index >= args.ddpm_files:
                continue
            settings = None
            start = time.perf_counter()
            if system == "original":
                out = audio
            elif system == "gt-specdiff":
                out = vocoder(mel).numpy()
            elif system == "gt-griffin-lim":
                out = griffin_lim(mel).numpy()
            elif system in sweep:
                overrides, precision = sweep[system]
                chosen = synthesizer(precision)
                settings = chosen.settings.override(guidance=args.guidance, **overrides)
                out, _ = chosen.synthesize(notes, settings=settings, seed=index, progress=None,
                                           tail_seconds=0.0)
            else:
                chosen = synthesizer()
                settings = chosen.settings.override(guidance=args.guidance)
                if system == "model-1000":  # the paper's sampler: guidance at every step
                    settings = with_quality(settings, "best")
                out, _ = chosen.synthesize(notes, settings=settings, seed=index, progress=None,
                                           tail_seconds=0.0)
            times[system] += time.perf_counter() - start
            total_seconds[system] += n / SAMPLE_RATE
            out = np.pad(out[:n], (0, max(0, n - len(out))))
            out_mel = mels[system] = log_mel(out)
            frames[system].append(out_mel)
            row = scores[system]
            row.setdefault("log_mel_l1", []).append(float((out_mel - mel).abs().mean()))
            row.setdefault("mrstft", []).append(multi_resolution_stft_distance(out, audio)["mrstft"])
            row.setdefault("seam", []).append(seam_of(out_mel.numpy(), settings))
            if len(reference):
                found = note_scores(reference, transcriber.transcribe(out, SAMPLE_RATE))
                row.setdefault("onset_f1", []).append(found["onset_f1"])
                row.setdefault("onset_offset_f1", []).append(found["onset_offset_f1"])
        print(f"[{index + 1}/{len(files)}] {entry['id']}: " + ", ".join(
            f"{s} F1 {scores[s]['onset_f1'][-1]:.2f}" for s in mels if scores[s].get("onset_f1")),
            flush=True)
        if args.plot_dir is not None and index < 2:
            shown = {f"{LABELS[s]} ({entry['id']})": np.asarray(mels[s])
                     for s in ("original", "gt-specdiff", "model") if s in mels}
            args.plot_dir.mkdir(parents=True, exist_ok=True)
            render_figure(notes, shown, args.plot_dir / f"quality_{index}.png")

    summary: dict[str, dict[str, float]] = {}
    original_stats = gaussian_stats(frames["original"]) if "original" in systems else None
    for system in systems:
        s = {k: float(np.nanmean(v)) for k, v in scores[system].items()}
        s["files"] = len(frames[system])
        if original_stats is not None:
            # identical sets give 0 up to rounding in the matrix square root
            s["frechet_mel"] = max(0.0, frechet_distance(gaussian_stats(frames[system]), original_stats))
        if system != "original":
            s["x_real_time"] = total_seconds[system] / max(times[system], 1e-9)
        summary[system] = s
    length = f"{args.seconds:g} s each" if args.seconds else "whole pieces"
    print(f"\n{len(files)} held-out files ({length}, at least {args.min_seconds:g} s) of "
          f"{args.corpus}, "
          f"model {args.model}, guidance {args.guidance}, threads {args.threads}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| system | files | onset F1 | onset+offset F1 | log-mel L1 | MR-STFT | Frechet mel "
          "| seam | x real time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for system, s in summary.items():
        cells = [str(s["files"])] + [f"{s.get(k, float('nan')):.3f}" for k in
                                     ("onset_f1", "onset_offset_f1", "log_mel_l1", "mrstft",
                                      "frechet_mel", "seam")]
        cells.append(f"{s['x_real_time']:.2f}" if "x_real_time" in s else "-")
        print(f"| {LABELS[system]} | " + " | ".join(cells) + " |")
    f1 = {k: v.get("onset_f1") for k, v in summary.items()}
    if f1.get("original") and f1.get("gt-specdiff") is not None:
        print(f"\nonset F1 ratios: ground truth encoded / original {f1['gt-specdiff'] / f1['original']:.2f}"
              " (target >= 0.9)", end="")
        if f1.get("gt-griffin-lim") is not None:
            print(f"; Griffin-Lim / original {f1['gt-griffin-lim'] / f1['original']:.2f}", end="")
        for system in ("model", "model-1000", *sweep):
            if f1.get(system) is not None and f1["gt-specdiff"]:
                print(f"; {system} / ground truth encoded {f1[system] / f1['gt-specdiff']:.2f}"
                      " (target >= 0.8)", end="")
        print()
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
