"""Validation loss and sample quality against wall-clock time for one or more `specdiff fit`
runs, read from their TensorBoard logs: a table, and optionally a plot.

    python scripts/training_curves.py RUN_DIR [RUN_DIR ...] [--names A B] [--plot curves.png]

RUN_DIR is a run's logger folder (the one holding ``tb/``), e.g. ``runs/default``. Minutes count
from the run's first logged training step, so runs started at different times line up.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def read_run(run: Path) -> list[tuple[int, float, float, float]]:
    """(step, minutes, val/loss, val/mel_l1) per validation of the run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    start = events.Scalars("train/loss")[0].wall_time
    mel = {e.step: e.value for e in events.Scalars("val/mel_l1")}
    return [(e.step, (e.wall_time - start) / 60, e.value, mel.get(e.step, float("nan")))
            for e in events.Scalars("val/loss")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--names", nargs="*", default=None, help="one label per run")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG of the curves")
    args = p.parse_args()
    names = args.names or [str(run) for run in args.runs]
    curves = {name: read_run(run) for name, run in zip(names, args.runs)}
    for name, rows in curves.items():
        print(f"\n{name}\n| step | minutes | val loss | val mel L1 |\n|---|---|---|---|")
        for step, minutes, loss, mel in rows:
            print(f"| {step + 1} | {minutes:.1f} | {loss:.3f} | {mel:.2f} |")
    if args.plot:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 3.6), dpi=90, layout="constrained")
        FigureCanvasAgg(fig)
        loss_ax, mel_ax = fig.subplots(1, 2)
        for name, rows in curves.items():
            minutes = [r[1] for r in rows]
            loss_ax.plot(minutes, [r[2] for r in rows], marker="o", label=name)
            mel_ax.plot(minutes, [r[3] for r in rows], marker="o", label=name)
        loss_ax.set(xlabel="minutes of training", ylabel="validation loss (eps L1, EMA)")
        mel_ax.set(xlabel="minutes of training",
                   ylabel="mel L1 of 2 sampled validation segments")
        loss_ax.legend()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, format="png")
        print(f"\nwrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
