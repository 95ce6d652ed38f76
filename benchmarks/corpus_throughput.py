"""Corpus synthesis throughput: files and audio hours per hour, one process against two.

    python benchmarks/corpus_throughput.py [--files 8] [--seconds 20] [--base-files 2]
        [--base-seconds 5] [--skip builtin,base]

``specdiff synth CORPUS/ -o OUT/ --devices N`` run as a user runs it (a fresh process, start-up,
model loading and the manifest included) for N = 1 and 2, on random piano / strings / bass /
drums pieces (``bench_vocoders.write_song``, lengths spread from 0.5x to 1.5x ``--seconds``):

- builtin: the built-in model with its own settings;
- base: the paper's base architecture with context (random weights, specdiff's defaults for it:
  20 DPM-Solver++ steps, guidance 2, Griffin-Lim), on ``--base-files`` shorter pieces.

Prints per row: processes, files made, audio seconds, wall seconds, files per hour, audio hours
per hour, the speed-up of two processes over one, and whether both wrote identical bytes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_corpus(folder: Path, files: int, seconds: float) -> None:
    write_song = _load("bench_vocoders").write_song
    folder.mkdir(parents=True)
    for k in range(files):
        length = seconds * (0.5 + k / max(1, files - 1))
        write_song(folder / f"piece{k:02d}.mid", length, seed=k)


def run(corpus: Path, out: Path, devices: int, model: Path | None) -> dict:
    cmd = [sys.executable, "-m", "specdiff", "synth", str(corpus), "-o", str(out),
           "--devices", str(devices), "--no-progress"]
    if model is not None:
        cmd += ["--model", str(model)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"corpus run failed:\n{done.stderr[-3000:]}")
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    made = [r for r in records if r["status"] == "ok"]
    audio = sum(r["seconds"] for r in made)
    return {"processes": devices, "files": len(made), "audio_s": round(audio, 1),
            "wall_s": round(wall, 1), "files_per_hour": round(len(made) * 3600 / wall, 1),
            "audio_hours_per_hour": round(audio / wall, 3)}


def outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.wav"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--base-files", type=int, default=2)
    parser.add_argument("--base-seconds", type=float, default=5.0)
    parser.add_argument("--skip", default="", help="comma list: builtin,base")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        setups = []
        if "builtin" not in skip:
            make_corpus(tmp / "corpus", args.files, args.seconds)
            setups.append(("builtin", tmp / "corpus", None))
        if "base" not in skip:
            make_corpus(tmp / "base_corpus", args.base_files, args.base_seconds)
            hub = tmp / "hub-base"
            _load("bench_synth").write_base_weights(hub)
            setups.append(("base", tmp / "base_corpus", hub / "model.safetensors"))
        for name, corpus, model in setups:
            rows = {d: run(corpus, tmp / f"out-{name}-{d}", d, model) for d in (1, 2)}
            same = outputs(tmp / f"out-{name}-1") == outputs(tmp / f"out-{name}-2")
            for devices, row in rows.items():
                row["speedup"] = round(rows[1]["wall_s"] / row["wall_s"], 2)
                row["identical_bytes"] = same
                print(name, json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
