"""Regenerate the codec golden fixtures with the reference stack (diffusers 0.24.0 + note-seq).

    refenv/bin/python tests/reference/make_codec_fixtures.py [--venv-python PY] [--no-build]

1. Builds the MIDI set with ``tests/reference/codec_midis.py`` (run by ``--venv-python``, which
   needs music21 and Debian's mma) into ``tests/fixtures/codec/midi/``.
2. For every file there and in ``examples/`` (keyed ``examples/<name>``) records, in
   ``tests/fixtures/codec/golden.json``:
   * ``official``: diffusers ``MidiProcessor()(path)`` ids, unpadded (EOS kept);
   * ``raw_programs``: the same chain without the Slakh program map (the ``MidiProcessor`` body
     with its program-mapping loop removed; every other call is the diffusers/note-seq function);
   * ``vb127``: raw programs and a 127-velocity-bin codec (the ``ismir2021`` vocabulary);
   * ``notes``: note-seq's NoteSequence after ``apply_sustain_control_changes`` (exact floats);
   or ``{"error": "<exception type>"}`` where the reference raises.
The tests read only the committed JSON and MIDI files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import note_seq
import numpy as np
from diffusers.pipelines.spectrogram_diffusion import midi_utils as mu

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "codec"


def make_codec(num_velocity_bins: int) -> mu.Codec:
    return mu.Codec(
        max_shift_steps=mu.DEFAULT_MAX_SHIFT_SECONDS * mu.DEFAULT_STEPS_PER_SECOND,
        steps_per_second=mu.DEFAULT_STEPS_PER_SECOND,
        event_ranges=[
            mu.EventRange("pitch", note_seq.MIN_MIDI_PITCH, note_seq.MAX_MIDI_PITCH),
            mu.EventRange("velocity", 0, num_velocity_bins),
            mu.EventRange("tie", 0, 0),
            mu.EventRange("program", note_seq.MIN_MIDI_PROGRAM, note_seq.MAX_MIDI_PROGRAM),
            mu.EventRange("drum", note_seq.MIN_MIDI_PITCH, note_seq.MAX_MIDI_PITCH),
        ],
    )


def chain(midi: bytes, codec: mu.Codec, program_map: bool) -> list[list[int]]:
    """``MidiProcessor.__call__`` with the program map optional and the codec a parameter."""
    ns = note_seq.midi_to_note_sequence(midi)
    ns_sus = note_seq.apply_sustain_control_changes(ns)
    if program_map:
        for note in ns_sus.notes:
            if not note.is_drum:
                note.program = mu.program_to_slakh_program(note.program)
    samples = np.zeros(int(ns_sus.total_time * mu.SAMPLE_RATE))
    _, frame_times = mu.audio_to_frames(samples, mu.HOP_SIZE, mu.FRAME_RATE)
    times, values = mu.note_sequence_to_onsets_and_offsets_and_programs(ns_sus)
    events = mu.encode_and_index_events(
        state=mu.NoteEncodingState(), event_times=times, event_values=values,
        frame_times=frame_times, codec=codec, encode_event_fn=mu.note_event_data_to_events,
        encoding_state_to_events_fn=mu.note_encoding_state_to_events)
    config = mu.NoteRepresentationConfig(onsets_only=False, include_ties=True)
    events = [mu.note_representation_processor_chain(e, codec, config) for e in events]
    tokenizer = mu.Tokenizer(codec.num_classes)
    return [unpad(tokenizer.encode(e["inputs"])) for e in events]


def unpad(ids) -> list[int]:
    ids = [int(i) for i in ids]
    return ids[: ids.index(1) + 1]  # EOS (1) occurs only at the end; PAD (0) follows it


def guarded(fn):
    try:
        return fn()
    except Exception as error:  # the reference's failures are part of the record
        return {"error": type(error).__name__}


def notes_of(midi: bytes):
    ns = note_seq.apply_sustain_control_changes(note_seq.midi_to_note_sequence(midi))
    cols = [[n.start_time, n.end_time, n.pitch, n.velocity, n.program, n.is_drum, n.instrument]
            for n in ns.notes]
    return {"total_time": ns.total_time, "notes": cols}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv-python", default="python")
    parser.add_argument("--no-build", action="store_true", help="keep the existing MIDI files")
    args = parser.parse_args()
    midi_dir = FIXTURES / "midi"
    if not args.no_build:
        subprocess.run([args.venv_python, str(ROOT / "tests/reference/codec_midis.py"),
                        str(midi_dir)], check=True)
    processor = mu.MidiProcessor()
    codec1, codec127 = make_codec(1), make_codec(127)
    golden = {}
    paths = sorted(midi_dir.glob("*.mid")) + sorted((ROOT / "examples").glob("*.mid"))
    for path in paths:
        key = path.stem if path.parent == midi_dir else f"examples/{path.stem}"
        midi = path.read_bytes()
        official = guarded(lambda: [unpad(s) for s in processor(str(path))])
        record = {
            "official": official,
            "raw_programs": guarded(lambda: chain(midi, codec1, program_map=False)),
            "vb127": guarded(lambda: chain(midi, codec127, program_map=False)),
            "notes": guarded(lambda: notes_of(midi)),
        }
        # Our chain must agree with MidiProcessor itself where both run.
        mapped = guarded(lambda: chain(midi, codec1, program_map=True))
        assert mapped == official, path.name
        golden[key] = record
        n = len(official) if isinstance(official, list) else official
        print(f"{key}: {n} segments")
    out = FIXTURES / "golden.json"
    out.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
