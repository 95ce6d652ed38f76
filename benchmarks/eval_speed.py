"""Evaluation speed and agreement: specdiff.evaluation against the reference code paths.

* transcription: ``BasicPitchTranscriber`` vs basic-pitch's own ``inference.predict`` (same ONNX
  model) on the same audio: time ratio and whether the notes are identical;
* FAD: the official ``scipy.linalg.sqrtm`` path vs the eigendecomposition path: time, agreement;
* VGGish (random weights; the architecture decides the cost) and spectral metrics: real-time factor;
* ``evaluate_systems`` on a folder: first run, cached re-run, and --jobs 2.

Usage: python benchmarks/eval_speed.py [--seconds 30] [--files 4]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"


def random_midi(path: Path, seconds: float, seed: int) -> None:
    import symusic

    rng = np.random.default_rng(seed)
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 120))
    for program, step, lo, hi in ((0, 240, 48, 72), (48, 480, 60, 84), (33, 480, 36, 48)):
        track = symusic.Track(program=program)
        for i in range(int(seconds * 960 / step)):
            track.notes.append(symusic.Note(i * step, step - 20, int(rng.integers(lo, hi)), 90))
        score.tracks.append(track)
    drums = symusic.Track(program=0, is_drum=True)
    for i in range(int(seconds * 4)):
        drums.notes.append(symusic.Note(i * 240, 60, (36, 38, 42, 42)[i % 4], 100))
    score.tracks.append(drums)
    score.dump_midi(str(path))


def render(midi: Path, wav: Path) -> None:
    subprocess.run(["fluidsynth", "-ni", "-q", "-r", "16000", "-F", str(wav), SOUNDFONT,
                    str(midi)], check=True, timeout=120)  # fmt: skip


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()

    import librosa
    from basic_pitch.inference import Model, predict

    from specdiff.audio import load_audio
    from specdiff.evaluation import (
        BasicPitchTranscriber,
        EvalOptions,
        GaussianStats,
        VGGishEmbedder,
        build_vggish_network,
        evaluate_systems,
        frechet_distance,
        gaussian_stats,
        log_mel_l1,
        multi_resolution_stft_distance,
        prepare_for_embedding,
    )  # fmt: skip
    from specdiff.evaluation.transcription import basic_pitch_model_path

    root = Path(tempfile.mkdtemp(prefix="specdiff-evalbench-"))
    try:
        for name in ("ref", "midi", "pred"):
            (root / name).mkdir()
        for i in range(args.files):
            random_midi(root / "midi" / f"song{i}.mid", args.seconds, i)
            render(root / "midi" / f"song{i}.mid", root / "ref" / f"song{i}.wav")
            audio = load_audio(root / "ref" / f"song{i}.wav", 16000)
            noisy = audio + 0.01 * np.random.default_rng(i).standard_normal(audio.size)
            sf.write(root / "pred" / f"song{i}.wav", noisy.astype(np.float32), 16000)
        wav = root / "ref" / "song0.wav"
        audio16 = load_audio(wav, 16000)
        dur = len(audio16) / 16000
        print(f"audio: {args.files} FluidSynth renders of {args.seconds:.0f} s MIDI "
              f"({dur:.1f} s with the tail), torch threads {torch.get_num_threads()}")  # fmt: skip

        # transcription vs basic-pitch's own predict (loads with librosa, same ONNX model)
        model = Model(basic_pitch_model_path())
        t_ref, (_, _, events) = timed(lambda: predict(wav, model), 3)
        ref = np.array([[s, e, p] for s, e, p, *_ in events])
        ref = ref[np.lexsort((ref[:, 1], ref[:, 2], ref[:, 0]))]
        tr = BasicPitchTranscriber()
        t_ours, ours = timed(
            lambda: tr.transcribe(librosa.load(wav, sr=22050, mono=True)[0], 22050), 3)
        print(f"transcription: specdiff {t_ours:.3f} s, basic_pitch.predict {t_ref:.3f} s, "
              f"ratio {t_ours / t_ref:.2f}; identical notes: {np.array_equal(ours, ref)} "
              f"({len(ours)} notes)")  # fmt: skip

        # FAD: scipy sqrtm (official) vs eigh
        rng = np.random.default_rng(0)
        mix = rng.standard_normal((128, 128))
        x = rng.standard_normal((4000, 128)) @ mix
        y = rng.standard_normal((4000, 128)) @ (mix + 0.1 * rng.standard_normal((128, 128)))
        sx, sy = gaussian_stats(x), gaussian_stats(y)
        t_sc, d_sc = timed(lambda: frechet_distance(sx, sy, "scipy"), 5)
        t_ei, d_ei = timed(lambda: frechet_distance(sx, sy, "eigh"), 5)
        print(f"FAD 128-d: scipy {t_sc * 1e3:.1f} ms, eigh {t_ei * 1e3:.1f} ms "
              f"(ratio {t_ei / t_sc:.2f}); values {d_sc:.6f} vs {d_ei:.6f} "
              f"(rel diff {abs(d_sc - d_ei) / abs(d_sc):.1e})")  # fmt: skip
        assert isinstance(sx, GaussianStats)

        # VGGish and spectral metrics, real-time factor
        torch.manual_seed(0)
        vggish = VGGishEmbedder(build_vggish_network(), "random")
        prepared = prepare_for_embedding(audio16, 16000)
        t_vgg, emb = timed(lambda: vggish.embed(prepared), 3)
        t_mel, _ = timed(lambda: log_mel_l1(audio16, audio16 * 0.5), 3)
        t_stft, _ = timed(lambda: multi_resolution_stft_distance(audio16, audio16 * 0.5), 3)
        print(f"VGGish: {t_vgg:.3f} s for {len(emb)} embeddings (RTF {t_vgg / dur:.4f}); "
              f"log-mel L1 RTF {t_mel / dur:.4f}; MR-STFT RTF {t_stft / dur:.4f}")  # fmt: skip

        # end to end, cache and jobs
        def run(cache, jobs):
            return evaluate_systems({"pred": root / "pred"}, root / "ref", root / "midi",
                                    embedders=[vggish], transcriber=tr,
                                    options=EvalOptions(jobs=jobs, cache_dir=cache,
                                                        progress=False))  # fmt: skip

        t1, report = timed(lambda: run(root / "cache1", 1))
        t_cached, _ = timed(lambda: run(root / "cache1", 1))
        t2, _ = timed(lambda: run(root / "cache2", 2))
        print(f"evaluate_systems ({2 * args.files} files): jobs 1 {t1:.2f} s, jobs 2 {t2:.2f} s "
              f"(ratio {t2 / t1:.2f}), cached re-run {t_cached:.2f} s "
              f"(ratio {t_cached / t1:.3f})")  # fmt: skip
        print(report.to_markdown())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
