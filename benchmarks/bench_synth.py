"""End-to-end synthesis speed: the built-in model and the paper's base model, with diffusers 0.24
as the reference, and how much of the CPU's matrix throughput the decoder reaches.

    python benchmarks/bench_synth.py [--seconds 60] [--qualities draft,default]
        [--base-seconds 10.24] [--base-precisions fp32,int8] [--refenv refenv/bin/python]
        [--skip builtin,base,reference,memory]

Parts (each row runs in a fresh process, so its peak resident memory is its own):

1. builtin: ``specdiff synth SONG.mid -o OUT.wav --quality Q`` on a random 60 s piano / strings /
   bass / drums MIDI, as a user runs it: wall time from process start to the written file, the
   real-time factor (wall / audio seconds) and the peak RSS.
2. base: the paper's base model with context (412 M parameters as specdiff counts them), random
   weights saved in the diffusers hub layout by the reference environment, synthesized with
   specdiff's defaults for it (20 DPM-Solver++ steps, guidance 2, context chained, Griffin-Lim)
   at each ``--base-precisions``: seconds per 5.12 s segment (model loaded; vocoder included),
   real-time factor, peak RSS, and the share of the CPU's measured matrix throughput (a
   (256 x 768) @ (768 x 2048) product, the decoder's typical shape) that the decoder reaches,
   its FLOPs counted by torch's FlopCounterMode.
3. reference: diffusers 0.24's SpectrogramDiffusionPipeline with its defaults (100 DDPM steps, no
   guidance, no vocoder) on the same weights and token segments: seconds per segment, and the
   speed-up of each specdiff row over it.
4. memory: peak RSS of ``synthesize_to_file`` at the small size (1 step, Griffin-Lim) for 1- and
   10-minute files: it must not grow with the length of the piece.
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
_spec = importlib.util.spec_from_file_location("bench_vocoders", HERE / "bench_vocoders.py")
_bench_vocoders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_vocoders)
write_song = _bench_vocoders.write_song

SEGMENT_SECONDS = 5.12
_HWM = ("hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n")


def _run(code: str, python: str = sys.executable) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    done = subprocess.run([python, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if done.returncode:
        raise SystemExit(f"benchmark process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def builtin_row(midi: Path, out: Path, quality: str) -> dict:
    """``specdiff synth`` end to end in a fresh process (imports and model loading included)."""
    code = (
        "import sys, time, json\n"
        "start = time.perf_counter()\n"
        "from specdiff.cli import main\n"
        f"main(['synth', {str(midi)!r}, '-o', {str(out)!r}, '--quality', {quality!r},"
        " '--no-progress'])\n"
        "wall = time.perf_counter() - start\n"
        + _HWM +
        "import soundfile\n"
        f"seconds = soundfile.info({str(out)!r}).duration\n"
        "print(json.dumps(dict(wall_s=wall, audio_s=seconds, peak_mib=int(hwm) / 1024)))\n")
    start = time.perf_counter()
    row = _run(code)
    row["process_s"] = time.perf_counter() - start  # interpreter start-up included
    row["rtf"] = row["process_s"] / row["audio_s"]
    return row


def gemm_gflops(dtype: str, threads: int) -> float:
    """Best-of-5 throughput of a (256 x 768) @ (768 x 2048) product in ``dtype`` (GFLOP/s)."""
    code = (
        "import torch, time, json\n"
        f"torch.set_num_threads({threads})\n"
        f"dt = getattr(torch, {dtype!r})\n"
        "a, b = torch.randn(256, 768).to(dt), torch.randn(768, 2048).to(dt)\n"
        "best = 1e9\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter()\n"
        "    for _ in range(20): a @ b\n"
        "    best = min(best, (time.perf_counter() - t) / 20)\n"
        "print(json.dumps(dict(gflops=2 * 256 * 768 * 2048 / best / 1e9)))\n")
    return _run(code)["gflops"]


def base_row(hub: Path, midi: Path, precision: str, threads: int) -> dict:
    """specdiff's defaults on the base model at ``precision``: per-segment time and FLOPs."""
    code = (
        "import json, time, torch\n"
        f"torch.set_num_threads({threads})\n"
        "from torch.utils.flop_counter import FlopCounterMode\n"
        "from specdiff.synthesizer import Synthesizer\n"
        f"s = Synthesizer.from_pretrained({str(hub)!r}, precision={precision!r})\n"
        f"notes, segments = s.prepare({str(midi)!r}, None, None)\n"
        "s.synthesize(notes, steps=1, progress=False)  # warm-up\n"
        "start = time.perf_counter()\n"
        "audio, rate = s.synthesize(notes, progress=False)\n"
        "wall = time.perf_counter() - start\n"
        + _HWM +
        "flops = 0\n"
        "if s.precision != 'int8':  # quantized kernels are not counted by FlopCounterMode\n"
        "    with FlopCounterMode(display=False) as counter:\n"
        "        s.synthesize(notes, progress=False)\n"
        "    flops = counter.get_total_flops()\n"
        "print(json.dumps(dict(segments=len(segments), wall_s=wall, audio_s=len(audio) / rate,"
        " steps=s.settings.sampling.num_steps, guidance=s.settings.sampling.guidance,"
        " precision=s.precision,"
        " flops=flops, peak_mib=int(hwm) / 1024)))\n")
    row = _run(code)
    row["segment_s"] = row["wall_s"] / row["segments"]
    row["rtf"] = row["segment_s"] / SEGMENT_SECONDS
    return row


def reference_segment(refenv: str, midi: Path, hub: Path, tmp: Path) -> dict:
    """diffusers' pipeline, its defaults (100 DDPM steps, no guidance): seconds per segment.
    Also writes the random base weights it uses to ``hub`` (diffusers layout)."""
    from specdiff.codec import read_midi, tokenize_notes

    tokens = tmp / "tokens.json"
    tokens.write_text(json.dumps([s.tolist() for s in tokenize_notes(read_midi(midi))]))
    out = subprocess.run([refenv, str(HERE / "ref_diffusers_synth.py"), "base", str(tokens),
                          "100", str(hub)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"reference run failed:\n{out.stderr[-3000:]}")
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    ref["segment_s"] = ref["seconds"] / ref["segments"]
    return ref


def write_base_weights(hub: Path) -> None:
    """Random base weights (seed 0) in the diffusers layout, without the reference environment."""
    import torch

    from specdiff.models import SpectrogramDiffusion, model_config

    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("base"))
    hub.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(hub / "model.safetensors")


def peak_memory(minutes: float, tmp: Path) -> dict:
    midi = tmp / f"song-{minutes}.mid"
    write_song(midi, minutes * 60)
    code = (
        "import torch, json\n"
        "from specdiff.models import SpectrogramDiffusion, model_config\n"
        "from specdiff.synthesizer import synthesize_to_file\n"
        "torch.manual_seed(0)\n"
        "m = SpectrogramDiffusion(model_config('small')).eval()\n"
        f"r = synthesize_to_file({str(midi)!r}, {str(tmp / 'out.flac')!r}, m, steps=1,"
        " guidance=1.0, vocoder='griffin-lim', progress=False)\n"
        + _HWM +
        "print(json.dumps(dict(segments=r.num_segments, peak_mib=int(hwm) / 1024)))\n")
    return dict(minutes=minutes, **_run(code))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="built-in model's piece")
    parser.add_argument("--qualities", default="draft,default")
    parser.add_argument("--base-seconds", type=float, default=10.24)
    parser.add_argument("--base-precisions", default="fp32,int8")
    parser.add_argument("--refenv", default="refenv/bin/python")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma list: builtin,base,reference,memory")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "builtin" not in skip:
            midi = tmp / "song.mid"
            write_song(midi, args.seconds)
            for quality in args.qualities.split(","):
                row = builtin_row(midi, tmp / "out.wav", quality)
                print("builtin", json.dumps({"quality": quality, **row}), flush=True)
        hub = tmp / "hub-base"
        midi = tmp / "short.mid"
        write_song(midi, args.base_seconds)
        ref = None
        if "reference" not in skip and os.path.exists(args.refenv):
            ref = reference_segment(args.refenv, midi, hub, tmp)
            print("reference", json.dumps(ref), flush=True)
        if "base" not in skip:
            if ref is None:
                write_base_weights(hub)
            peak = {p: gemm_gflops(p, args.threads) for p in ("float32", "bfloat16")}
            print("gemm_gflops", json.dumps(peak), flush=True)
            for precision in args.base_precisions.split(","):
                row = base_row(hub, midi, precision, args.threads)
                dtype = "bfloat16" if row["precision"] == "bf16" else "float32"
                if row["flops"]:
                    achieved = row["flops"] / row["wall_s"] / 1e9
                    row["decoder_gflops"] = achieved
                    row["share_of_gemm"] = achieved / peak[dtype]
                if ref is not None:
                    row["speedup_vs_diffusers"] = ref["segment_s"] / row["segment_s"]
                print("base", json.dumps(row), flush=True)
        if "memory" not in skip:
            for minutes in (1.0, 10.0):
                print("memory", json.dumps(peak_memory(minutes, tmp)), flush=True)


if __name__ == "__main__":
    main()
