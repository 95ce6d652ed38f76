"""specdiff.codec: MIDI -> notes -> events -> token segments (official MT3 vocabulary)."""

from specdiff.codec.config import (
    EVENT_TYPES,
    OFFICIAL_CODEC,
    OFFICIAL_CODEC_VB127,
    PORT_CODEC,
    SLAKH_CLASS_PROGRAMS,
    SLAKH_PROGRAM_MAP,
    CodecConfig,
    slakh_program,
)
from specdiff.codec.decode import TokenEvent, decode_events, decode_tokens
from specdiff.codec.encode import (
    note_events,
    num_frames,
    pad_segments,
    tokenize_notes,
    tokenize_window,
)
from specdiff.codec.midi import parse_midi, read_midi
from specdiff.codec.notes import Note, NoteSequence
from specdiff.codec.truncate import TruncationWarning

__all__ = [
    "EVENT_TYPES", "OFFICIAL_CODEC", "OFFICIAL_CODEC_VB127", "PORT_CODEC", "SLAKH_CLASS_PROGRAMS",
    "SLAKH_PROGRAM_MAP", "CodecConfig", "Note", "NoteSequence", "TokenEvent", "TruncationWarning",
    "decode_events", "decode_tokens", "note_events", "num_frames", "pad_segments", "parse_midi",
    "read_midi", "slakh_program", "tokenize_midi", "tokenize_notes", "tokenize_window",
]


def tokenize_midi(path, codec: CodecConfig = OFFICIAL_CODEC, program_map: bool = True):
    """``tokenize_notes(read_midi(path), ...)``: a MIDI file -> list of int64 id arrays."""
    import os

    return tokenize_notes(read_midi(path), codec=codec, program_map=program_map,
                          name=os.fspath(path))
