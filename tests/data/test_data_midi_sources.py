"""`specdiff midi-sources`: each source writes parseable, multi-instrument MIDI quickly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from data_fakes import run_command

from specdiff.data.midi import read_midi_tracks
from specdiff.data.source_mma import grooves


def tracks_of(folder: Path):
    files = sorted(folder.rglob("*.mid"))
    return files, [read_midi_tracks(f) for f in files]


def test_music21_source(tmp_path: Path):
    out = tmp_path / "m21"
    assert run_command("midi_sources", ["midi-sources", "music21", str(out), "--count", "3",
                                        "--no-progress"]) == 0
    files, parsed = tracks_of(out)
    assert len(files) == 3 and all(f.parent.name == "bach" for f in files)
    for tracks in parsed:
        assert len(tracks) >= 4  # chorales: four or more parts
    programs = {t.program for tracks in parsed for t in tracks}
    assert len(programs) >= 4  # varied instruments, not all program 0
    again = {f: f.read_bytes() for f in files}
    assert run_command("midi_sources", ["midi-sources", "music21", str(out), "--count", "3",
                                        "--no-progress"]) == 0
    assert {f: f.read_bytes() for f in sorted(out.rglob("*.mid"))} == again  # kept as is


@pytest.mark.skipif(shutil.which("mma") is None, reason="needs Debian mma")
def test_mma_source(tmp_path: Path):
    assert len(grooves()) > 500
    out = tmp_path / "mma"
    assert run_command("midi_sources", ["midi-sources", "mma", str(out), "--count", "4",
                                        "--no-progress"]) == 0
    files, parsed = tracks_of(out)
    assert len(files) == 4 and len({f.stem.rsplit("-", 1)[0] for f in files}) == 4
    for tracks in parsed:
        assert len(tracks) >= 2
        assert max(float(t.notes["end"].max()) for t in tracks) > 10.0
    assert any(t.is_drum for tracks in parsed for t in tracks)


def test_procedural_source_covers_all_programs(tmp_path: Path):
    out = tmp_path / "proc"
    assert run_command("midi_sources", ["midi-sources", "procedural", str(out), "--count", "128",
                                        "--no-progress"]) == 0
    files, parsed = tracks_of(out)
    assert len(files) == 128
    programs = {t.program for tracks in parsed for t in tracks if not t.is_drum}
    assert programs == set(range(128))
    drum_pitches = {int(p) for tracks in parsed for t in tracks if t.is_drum
                    for p in t.notes["pitch"]}
    assert len(drum_pitches) > 30  # fills wander over the kit
    hours = sum(max(float(t.notes["end"].max()) for t in tracks) for tracks in parsed) / 3600
    assert hours > 0.5
