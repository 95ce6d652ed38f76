"""End-to-end synthesis: real-time factor and peak memory, with diffusers as the reference.

    python benchmarks/bench_synth.py [--seconds 60] [--sizes small,base] [--ref-seconds 10]
        [--ref-steps 20] [--memory-minutes 1,10] [--refenv /work/refenv/bin/python]

1. RTF (seconds of compute per second of audio) of ``specdiff.synthesize`` on a random
   multi-instrument MIDI of ``--seconds``, random weights of each size, DPM-Solver++(2M) ``--steps``,
   guidance 2.0, Griffin-Lim vocoder (48 iterations); the vocoder's own share is timed apart.
2. Against diffusers 0.24's pipeline (run in the reference environment) on the same weights and
   token segments: DDPM with ``--ref-steps`` steps, no guidance, mel only; the ratio of times.
3. Peak resident memory of ``synthesize_to_file`` (``--memory-size``, 1 step, Griffin-Lim) for files of
   ``--memory-minutes``, each in a fresh process: memory should not grow with the length.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_vocoders", HERE / "bench_vocoders.py")
_bench_vocoders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_vocoders)
write_song = _bench_vocoders.write_song


def rtf(size: str, midi: Path, steps: int) -> dict:
    from specdiff.audio import log_mel
    from specdiff.models import SpectrogramDiffusion, model_config
    from specdiff.synthesizer import synthesize
    from specdiff.vocoders import GriffinLim

    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config(size)).eval()
    start = time.perf_counter()
    audio, rate = synthesize(midi, model, sampler="dpmpp_2m", steps=steps, guidance=2.0,
                             vocoder=GriffinLim(), progress=False)
    total = time.perf_counter() - start
    mel = log_mel(torch.from_numpy(audio))
    start = time.perf_counter()
    GriffinLim()(mel[None])
    vocoder = time.perf_counter() - start
    duration = len(audio) / rate
    return dict(size=size, steps=steps, audio_s=duration, total_s=total, rtf=total / duration,
                vocoder_rtf=vocoder / duration)


def reference_ratio(size: str, midi: Path, steps: int, refenv: str, tmp: Path) -> dict:
    from specdiff.codec import read_midi, tokenize_notes
    from specdiff.models import SpectrogramDiffusion
    from specdiff.pipeline import generate_mels

    segments = tokenize_notes(read_midi(midi))
    tokens = tmp / "tokens.json"
    tokens.write_text(json.dumps([s.tolist() for s in segments]))
    folder = tmp / f"hub-{size}"
    out = subprocess.run([refenv, str(HERE / "ref_diffusers_synth.py"), size, str(tokens),
                          str(steps), str(folder)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"reference run failed:\n{out.stderr[-3000:]}")
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    model = SpectrogramDiffusion.from_pretrained(folder)
    start = time.perf_counter()
    for _ in generate_mels(model, segments, sampler="ddpm_discrete", steps=steps, guidance=1.0,
                           progress=False):
        pass
    ours = time.perf_counter() - start
    return dict(size=size, segments=len(segments), steps=steps, ours_s=ours,
                diffusers_s=ref["seconds"], speedup=ref["seconds"] / ours)


def peak_memory(minutes: float, size: str, tmp: Path) -> dict:
    midi = tmp / f"song-{minutes}.mid"
    write_song(midi, minutes * 60)
    code = (
        "import torch\n"
        "from specdiff.models import SpectrogramDiffusion, model_config\n"
        "from specdiff.synthesizer import synthesize_to_file\n"
        "torch.manual_seed(0)\n"
        f"m = SpectrogramDiffusion(model_config({size!r})).eval()\n"
        f"r = synthesize_to_file({str(midi)!r}, {str(tmp / 'out.flac')!r}, m, steps=1,"
        " guidance=1.0, vocoder='griffin-lim', progress=False)\n"
        # VmHWM, not ru_maxrss: the latter keeps the forked parent's peak across exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(r.num_segments, hwm)\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    segments, kib = out.stdout.split()
    return dict(minutes=minutes, size=size, segments=int(segments), peak_mib=int(kib) / 1024,
                wall_s=time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sizes", default="small,base")
    parser.add_argument("--steps", type=int, default=20, help="sampler steps for the RTF part")
    parser.add_argument("--memory-size", default="base")
    parser.add_argument("--ref-seconds", type=float, default=10.0)
    parser.add_argument("--ref-steps", type=int, default=20)
    parser.add_argument("--memory-minutes", default="1,10")
    parser.add_argument("--refenv", default="/work/refenv/bin/python")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: rtf,ref,memory")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    sizes = args.sizes.split(",")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "rtf" not in skip:
            midi = tmp / "song.mid"
            write_song(midi, args.seconds)
            for size in sizes:
                print("rtf", json.dumps(rtf(size, midi, args.steps)), flush=True)
        if "ref" not in skip and os.path.exists(args.refenv):
            midi = tmp / "short.mid"
            write_song(midi, args.ref_seconds)
            for size in sizes:
                print("ref", json.dumps(reference_ratio(size, midi, args.ref_steps, args.refenv,
                                                        tmp)), flush=True)
        if "memory" not in skip:
            for minutes in map(float, args.memory_minutes.split(",")):
                print("memory", json.dumps(peak_memory(minutes, args.memory_size, tmp)), flush=True)
    print("max rss of this process (MiB):",
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
