"""The evaluation table: rows = systems, columns = metrics; Markdown, JSON, CSV and bar charts."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

# (metric key, column label), in the paper's order; only columns with values are shown.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("vggish_recon", "VGGish recon ↓"),
    ("vggish_fad", "VGGish FAD ↓"),
    ("trill_recon", "TRILL recon ↓"),
    ("trill_fad", "TRILL FAD ↓"),
    ("onset_f1", "Onset F1 ↑"),
    ("onset_f1_vs_ref", "Onset F1 / ref"),
    ("onset_offset_f1", "On+off F1 ↑"),
    ("logmel_l1", "Log-mel L1 ↓"),
    ("mrstft", "MR-STFT ↓"),
    ("n_files", "files"),
)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    digits = 3 if abs(value) < 100 else 1
    return f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.000" for float noise


@dataclass
class EvalReport:
    """Results of ``evaluate_systems``.

    Attributes:
        systems: row names in order.
        metrics: {system: {metric key: mean over files}} (keys as in ``COLUMNS`` plus
            precision / recall, ``mrstft_sc``, ``mrstft_logmag``, ``n_transcribed``...).
        per_file: {system: {stem: {metric key: value}}}.
        notes: remarks printed under the table (skipped files, how F1 is computed).
    """

    systems: list[str]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    per_file: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def columns(self) -> list[tuple[str, str]]:
        """The (key, label) columns that at least one system has."""
        present = {k for row in self.metrics.values() for k in row}
        return [(k, label) for k, label in COLUMNS if k in present]

    def to_markdown(self) -> str:
        cols = self.columns()
        lines = [
            "| system | " + " | ".join(label for _, label in cols) + " |",
            "|---|" + "---:|" * len(cols),
        ]
        for name in self.systems:
            row = self.metrics.get(name, {})
            lines.append(f"| {name} | " + " | ".join(_fmt(row.get(k)) for k, _ in cols) + " |")
        lines += [f"\n{note}" if i == 0 else note for i, note in enumerate(self.notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        clean = lambda v: None if isinstance(v, float) and math.isnan(v) else v  # noqa: E731
        return {
            "systems": self.systems,
            "metrics": {s: {k: clean(v) for k, v in m.items()} for s, m in self.metrics.items()},
            "per_file": {s: {f: {k: clean(v) for k, v in m.items()} for f, m in files.items()}
                         for s, files in self.per_file.items()},  # fmt: skip
            "notes": self.notes,
        }

    def write(self, out_dir: str | os.PathLike, stem: str = "eval") -> dict[str, Path]:
        """Write ``<stem>.json`` (everything), ``<stem>.csv`` (the table, all metric keys) and
        ``<stem>.md``; returns their paths by format."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / f"{stem}.json", "csv": out / f"{stem}.csv", "md": out / f"{stem}.md"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        keys = [k for k, _ in self.columns()]
        keys += sorted({k for row in self.metrics.values() for k in row} - set(keys))
        with open(paths["csv"], "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["system", *keys])
            for name in self.systems:
                row = self.metrics.get(name, {})
                writer.writerow([name, *("" if row.get(k) is None else row[k] for k in keys)])
        paths["md"].write_text(self.to_markdown() + "\n")
        return paths

    def plot(self, out_dir: str | os.PathLike, stem: str = "eval") -> Path:
        """Bar charts of the table (one panel per metric column) as ``<stem>.png``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cols = [(k, label) for k, label in self.columns() if k != "n_files"]
        if not cols:
            raise ValueError("nothing to plot: the report has no metric columns")
        ncols = min(4, len(cols))
        nrows = math.ceil(len(cols) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
        colors = [f"C{i % 10}" for i in range(len(self.systems))]
        for ax, (key, label) in zip(axes.flat, cols):
            values = [self.metrics.get(s, {}).get(key, float("nan")) for s in self.systems]
            ax.bar(range(len(values)), [0 if v is None else v for v in values], color=colors)
            ax.set_title(label, fontsize=10)
            ax.set_xticks(range(len(values)), self.systems, rotation=30, ha="right", fontsize=8)
        for ax in list(axes.flat)[len(cols):]:
            ax.axis("off")
        fig.tight_layout()
        path = Path(out_dir) / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
