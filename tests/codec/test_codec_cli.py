"""``specdiff tokenize``, run in-process through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specdiff.cli import main
from specdiff.codec import TruncationWarning, read_midi, tokenize_notes

MIDI = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "midi"
GOLDEN = json.loads((MIDI.parent / "golden.json").read_text())


def test_json_prints_the_official_segments(capsys):
    assert main(["tokenize", str(MIDI / "bach_bwv66_6.mid"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"segments": GOLDEN["bach_bwv66_6"]["official"]}


def test_no_program_map_keeps_raw_programs(capsys):
    assert main(["tokenize", str(MIDI / "all_programs.mid"), "--json", "--no-program-map"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"] == GOLDEN["all_programs"]["raw_programs"]


def test_events_view_is_human_readable(capsys):
    assert main(["tokenize", str(MIDI / "ties_long.mid"), "--events"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# segment 0  0.00-5.12 s  11 ids"
    assert lines[1].split() == ["0.00", "tie", "0"] and lines[-1].split()[1] == "eos"
    assert sum(line.startswith("# segment") for line in lines) == 4


def test_default_prints_a_summary(capsys):
    assert main(["tokenize", str(MIDI / "sustain.mid")]) == 0
    out = capsys.readouterr().out
    n = len(read_midi(MIDI / "sustain.mid"))
    assert f"{n} notes" in out and "2 segments" in out


def test_no_notes_gives_zero_segments(capsys):
    assert main(["tokenize", str(MIDI / "no_notes.mid"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"segments": []}


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"RIFF....not midi")
    for path in (bad, tmp_path, tmp_path / "nope.mid"):
        assert main(["tokenize", str(path), "--json"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert captured.err.startswith(f"specdiff tokenize: error: {path}")


def test_over_long_segment_warns_on_stderr(capsys):
    assert main(["tokenize", str(MIDI / "too_dense.mid"), "--json"]) == 0
    captured = capsys.readouterr()
    segs = json.loads(captured.out)["segments"]
    with pytest.warns(TruncationWarning):
        ours = tokenize_notes(read_midi(MIDI / "too_dense.mid"))
    assert segs == [s.tolist() for s in ours]
    assert "segment 0.00-5.12 s" in captured.err and captured.err.count("\n") == 1
