"""Minimal MIDI edits with mido: rewrite programs and keep every other message as it is."""

from __future__ import annotations

from pathlib import Path

from specdiff.errors import SpecdiffError

DRUM_CHANNEL = 9


def open_midi(path: str | Path):
    """``mido.MidiFile`` of ``path``; raises ``SpecdiffError`` naming the file if unparsable."""
    import mido

    try:
        return mido.MidiFile(str(path))
    except Exception as error:  # noqa: BLE001 - mido raises OSError/EOFError/ValueError/...
        raise SpecdiffError(f"{path}: cannot parse MIDI ({error})") from None


def voices(midi) -> list[tuple[int, int, int]]:
    """``(track index, channel, first program)`` of every (track, channel) with note-ons,
    drums (channel 10) excluded, in file order. The program is 0 when none is set."""
    out = []
    for ti, track in enumerate(midi.tracks):
        program: dict[int, int] = {}
        seen: list[int] = []
        for msg in track:
            if msg.type == "program_change":
                program.setdefault(msg.channel, msg.program)
            elif (msg.type == "note_on" and msg.velocity > 0 and msg.channel != DRUM_CHANNEL
                  and msg.channel not in seen):
                seen.append(msg.channel)
        out.extend((ti, ch, program.get(ch, 0)) for ch in seen)
    return out


def set_programs(midi, programs: dict[tuple[int, int], int]) -> None:
    """In place: make (track, channel) play ``programs[(track, channel)]`` for the whole file.

    Program changes of that channel in that track are rewritten; if there is none, one is
    inserted at the start of the track.
    """
    import mido

    for (ti, channel), program in programs.items():
        track = midi.tracks[ti]
        found = False
        for i, msg in enumerate(track):
            if msg.type == "program_change" and msg.channel == channel:
                track[i] = msg.copy(program=program)
                found = True
        if not found:
            track.insert(0, mido.Message("program_change", channel=channel, program=program,
                                         time=0))


def end_at_last_note(midi) -> int:
    """In place: drop every event after the last note or sustain-pedal event and end each
    track there. FluidSynth plays a file to its longest track's end, so a track that ends
    minutes after its last note renders minutes of silence. Returns the ticks removed from the
    file's length (0 if it already ended there)."""
    import mido

    def sounding(msg) -> bool:
        return msg.type in ("note_on", "note_off") or (
            msg.type == "control_change" and msg.control == 64)

    last, length = 0, 0
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if sounding(msg):
                last = max(last, tick)
        length = max(length, tick)
    for ti, track in enumerate(midi.tracks):
        kept, tick = mido.MidiTrack(), 0
        for msg in track:
            tick += msg.time
            if tick > last or msg.type == "end_of_track":
                continue
            kept.append(msg)
        ended = sum(msg.time for msg in kept)
        kept.append(mido.MetaMessage("end_of_track", time=max(0, min(tick, last) - ended)))
        midi.tracks[ti] = kept
    return length - last


def save_midi(midi, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    midi.save(str(tmp))
    tmp.replace(path)
