"""The studio's figure: the generated spectrogram (or several, e.g. generated vs original) above
the piano roll, on one time axis."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from specdiff.instruments import instrument_name


def render_figure(
    sequence: Any, mel: np.ndarray | Mapping[str, np.ndarray], path: str | os.PathLike,
    frame_rate: float = 50.0
) -> Path:
    """``make_figure`` saved as a PNG at ``path``; returns ``path`` as a ``Path``."""
    path = Path(path)
    make_figure(sequence, mel, frame_rate).savefig(path, format="png")
    return path


def make_figure(sequence: Any, mel: np.ndarray | Mapping[str, np.ndarray],
                frame_rate: float = 50.0, dpi: int = 100) -> Any:
    """Draw the spectrogram(s) (top) and the piano roll (bottom) on one shared time axis.

    Args:
        sequence: the ``NoteSequence`` that was synthesized (arrays ``start``, ``end`` in s,
            ``pitch``, ``program``, ``is_drum``); each instrument gets its own colour.
        mel: (T, n_mels) log-mel spectrogram at ``frame_rate`` frames per second, titled
            "Generated spectrogram", or ``{title: mel}`` for several rows (e.g. original and
            generated), drawn top to bottom on one colour scale.
        frame_rate: spectrogram frames per second (16 kHz / hop 320 = 50).
        dpi: resolution.

    Returns:
        A ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state) whose axes share the
        time axis and, after layout, the same horizontal extent.
    """
    # The object-oriented API with an Agg canvas: no pyplot global state, safe in server threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from specdiff.audio import MAX_LOG_MEL, MIN_LOG_MEL
    from specdiff.instruments import instrument_keys

    mels = dict(mel) if isinstance(mel, Mapping) else {"Generated spectrogram": mel}
    mels = {title: np.asarray(m) for title, m in mels.items()}
    seconds = max(m.shape[0] for m in mels.values()) / frame_rate
    starts, ends = np.asarray(sequence.start), np.asarray(sequence.end)
    pitches = np.asarray(sequence.pitch)
    note_keys = instrument_keys(sequence)
    end = max(seconds, float(ends.max()) if len(ends) else 0.0, 1e-3)

    rows = len(mels)
    fig = Figure(figsize=(11, 3 * (rows + 1)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    *spec_axes, roll_ax = fig.subplots(rows + 1, 1, sharex=True, height_ratios=(1,) * (rows + 1))
    for spec_ax, (title, m) in zip(spec_axes, mels.items()):
        image = spec_ax.imshow(
            m.T,
            origin="lower",
            aspect="auto",
            extent=(0.0, m.shape[0] / frame_rate, 0, m.shape[1]),
            vmin=MIN_LOG_MEL,
            vmax=MAX_LOG_MEL,
            cmap="magma",
            interpolation="nearest",
        )
        spec_ax.set_title(title)
        spec_ax.set_ylabel("mel bin")
    fig.colorbar(image, ax=spec_axes, label="ln magnitude", pad=0.01)

    keys = [int(k) for k in np.unique(note_keys)]
    for key, colour in zip(keys, _colours(len(keys))):
        mine = note_keys == key
        roll_ax.barh(
            pitches[mine],
            ends[mine] - starts[mine],
            left=starts[mine],
            height=0.8,
            color=colour,
            edgecolor="none",
            label=instrument_name(key),
        )
    if keys:
        roll_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        roll_ax.set_ylim(int(pitches.min()) - 2, int(pitches.max()) + 2)
    roll_ax.set_title("Piano roll")
    roll_ax.set_ylabel("MIDI pitch")
    roll_ax.set_xlabel("time (s)")
    roll_ax.set_xlim(0.0, end)
    roll_ax.grid(axis="x", alpha=0.3)
    return fig


def _colours(count: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]
