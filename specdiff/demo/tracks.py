"""A piece's parts as the studio shows them (instrument re-assignment: ``specdiff.instruments``).

A part is one MIDI track and channel (`specdiff.instruments.Part`): a string quartet written
without program changes has four parts, each of which can get its own instrument, although all
four play "piano" in the file. The synthesis model is conditioned on programs, so assigning an
instrument to a part changes the program of exactly that part's notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from specdiff.errors import SpecdiffError
from specdiff.instruments import DRUMS, Part, instrument_name, list_parts, pitch_name


def pitch_range(part: Part) -> str:
    """``"C3–G5"`` (drum parts list pitch numbers, which name drum sounds)."""
    if part.keys == (DRUMS,):
        return f"{part.low}–{part.high}"
    return f"{pitch_name(part.low)}–{pitch_name(part.high)}"


def part_title(part: Part) -> str:
    """What the studio calls a part: its track name, else its first instrument."""
    return part.name or instrument_name(part.keys[0])


def summarize_parts(sequence: Any) -> list[Part]:
    """The parts of a piece, in track and channel order (`specdiff.instruments.list_parts`)."""
    return list_parts(sequence)


def parts_markdown(parts: Sequence[Part]) -> str:
    """The part table shown in the page (Markdown): what each part plays now."""
    if not parts:
        raise SpecdiffError("the MIDI file has no notes")
    rows = ["| # | part | instrument | notes | range |", "|---|---|---|---|---|"]
    for part in parts:
        instruments = ", ".join(instrument_name(k) for k in part.keys)
        rows.append(f"| {part.number} | {part_title(part)} | {instruments} | {part.notes} | "
                    f"{pitch_range(part)} |")
    return "\n".join(rows)
