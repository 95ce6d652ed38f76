"""Passage re-generation on held-out pieces: frames kept outside the range, seams at its edges.

    python benchmarks/regenerate.py --corpus corpus/rendered [--split test] [--min-seconds 60]
        [--files 4] [--ranges 3] [--length 4] [--model default] [--threads 2]

For each piece (whole, at least ``--min-seconds`` long) the model renders the MIDI once
(``synthesize_to_file`` with ``save_mel``), then re-generates ``--ranges`` passages of
``--length`` seconds spread over the piece, each with another seed, as
``specdiff synth --from-mel --regenerate START:END`` does. Reported per passage and overall:
the largest change of a mel frame outside the range (the goal is 0, at most 1e-4), the mean
change inside it (it must change), and the seam at the range's two edges
(`specdiff.evaluation.seam_ratio` of the re-analysed output audio's log-mel, so the vocoder's
join counts too; goal <= 2), beside the seam of the first rendering at the same frames.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from specdiff.audio import log_mel  # noqa: E402
from specdiff.evaluation import seam_ratio  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=Path("corpus/rendered"))
    p.add_argument("--split", default="test")
    p.add_argument("--min-seconds", type=float, default=60.0)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--ranges", type=int, default=3)
    p.add_argument("--length", type=float, default=4.0)
    p.add_argument("--model", default="default")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from quality import held_out_files

    from specdiff.pipeline import Passage
    from specdiff.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    synth = Synthesizer.from_pretrained(None if args.model == "default" else args.model)
    files = held_out_files(args.corpus, args.split, args.files, args.min_seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for index, entry in enumerate(files):
            midi = args.corpus / entry["midi"]
            first = synth.synthesize_to_file(midi, tmp / "a.wav", save_mel=tmp / "a.npy",
                                             seed=index, progress=False)
            old = np.load(first.mel_path)
            audio_old, _ = sf.read(tmp / "a.wav", dtype="float32")
            seconds = first.seconds
            for k in range(args.ranges):
                start = round(seconds * (k + 1) / (args.ranges + 1) - args.length / 2, 2)
                end = start + args.length
                passage = Passage(old, start, end, "a.npy")
                result = synth.synthesize_to_file(midi, tmp / "b.wav", save_mel=tmp / "b.npy",
                                                  seed=100 + k, progress=False,
                                                  passage=passage)
                new = np.load(result.mel_path)
                lo, hi = round(start * 50), round(end * 50)
                outside = np.ones(len(old), dtype=bool)
                outside[lo:hi] = False
                audio_new, _ = sf.read(tmp / "b.wav", dtype="float32")
                mel_new = log_mel(torch.from_numpy(audio_new)).numpy()
                mel_old = log_mel(torch.from_numpy(audio_old)).numpy()
                row = {"piece": entry["id"], "range": [start, end],
                       "max_diff_outside": float(np.abs(new[outside] - old[outside]).max()),
                       "mean_diff_inside": float(np.abs(new[~outside] - old[~outside]).mean()),
                       "edge_seam": seam_ratio(mel_new, [lo, hi]),
                       "edge_seam_before": seam_ratio(mel_old, [lo, hi])}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{len(rows)} passages of {args.length:g} s in {len(files)} held-out pieces "
          f"(at least {args.min_seconds:g} s) of {args.corpus}\n")
    print("| max change outside | mean change inside | edge seam | same frames, first rendering |")
    print("|---|---|---|---|")
    worst = max(r["max_diff_outside"] for r in rows)
    print(f"| {worst:.2e} | {np.mean([r['mean_diff_inside'] for r in rows]):.3f} | "
          f"{np.nanmean([r['edge_seam'] for r in rows]):.2f} (max "
          f"{np.nanmax([r['edge_seam'] for r in rows]):.2f}) | "
          f"{np.nanmean([r['edge_seam_before'] for r in rows]):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
