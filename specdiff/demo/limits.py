"""Upload checks of the studio: size, file type and MIDI duration, with messages for people."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from specdiff.errors import SpecdiffError


@dataclasses.dataclass(frozen=True)
class DemoLimits:
    """What one request may ask of the server.

    Attributes:
        max_upload_bytes: largest MIDI file accepted (also enforced by the web server itself).
        max_duration_s: longest piece accepted, in seconds of music (last note off).
        max_steps: most sampler steps per render.
        max_queue: renders waiting in the queue at most; further requests are turned away.
    """

    max_upload_bytes: int = 2**20
    max_duration_s: float = 120.0
    max_steps: int = 1000
    max_queue: int = 8


def _is_midi_header(head: bytes) -> bool:
    # A Standard MIDI File, or the same wrapped in a RIFF "RMID" container.
    return head[:4] == b"MThd" or (head[:4] == b"RIFF" and head[8:12] == b"RMID")


def _duration(sequence: Any) -> float:
    return float(sequence.total_time)


def load_upload(path: str | os.PathLike, limits: DemoLimits, display_name: str | None = None) -> Any:
    """Check an uploaded file and read it as MIDI.

    Args:
        path: the uploaded file on disk.
        limits: size and duration limits.
        display_name: the name the person knows the file by (defaults to the path's name).

    Returns:
        The ``NoteSequence`` of ``specdiff.codec.read_midi``, with at least one note.

    Raises:
        SpecdiffError: "<name>: <what is wrong>" for a missing, too large, non-MIDI, unreadable,
            empty or too long file.
    """
    path = Path(path)
    name = display_name or path.name
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as error:
        raise SpecdiffError(f"{name}: cannot read the upload ({error.strerror})") from None
    if size > limits.max_upload_bytes:
        raise SpecdiffError(
            f"{name}: file is {size / 2**20:.2f} MiB; the limit is "
            f"{limits.max_upload_bytes / 2**20:.2f} MiB"
        )
    if not _is_midi_header(head):
        raise SpecdiffError(
            f"{name}: not a MIDI file (expected a Standard MIDI File, .mid/.midi, "
            "starting with 'MThd')"
        )
    from specdiff.codec import read_midi

    try:
        sequence = read_midi(path)
    except SpecdiffError as error:
        # The codec names the temporary upload path; name the file the person chose instead.
        message = str(error).replace(str(path), name)
        raise SpecdiffError(message if name in message else f"{name}: {message}") from None
    if len(sequence) == 0:
        raise SpecdiffError(f"{name}: the MIDI file has no notes")
    duration = _duration(sequence)
    if duration > limits.max_duration_s:
        raise SpecdiffError(
            f"{name}: the piece lasts {duration:.1f} s; this studio renders at most "
            f"{limits.max_duration_s:g} s (start it with a larger --max-duration)"
        )
    return sequence
