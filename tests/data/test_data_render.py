"""`specdiff render`: FluidSynth (TimGM6mb) output lines up with the paired MIDI; bounded;
resumable; random programs; split by file."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from data_fakes import run_command, write_midi

from specdiff.data.midi import read_midi_tracks
from specdiff.data.render import RenderConfig, render_corpus, run_bounded, split_of

SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("fluidsynth") is None or not SF2.is_file(),
                                 reason="needs Debian fluidsynth and timgm6mb-soundfont")]
ONSETS = [0.37 + 0.8 * i for i in range(5)]  # off the 20 ms grid on purpose


def make_inputs(folder: Path) -> Path:
    for prog in (0, 24, 33, 40, 73):
        write_midi(folder / f"p{prog:03d}.mid",
                   [{"notes": [(t, t + 0.2, 55 + 3 * i) for i, t in enumerate(ONSETS)],
                     "program": prog}])
    write_midi(folder / "kit" / "drums.mid",
               [{"notes": [(t, t + 0.1, 36 + 2 * i) for i, t in enumerate(ONSETS)],
                 "channel": 9}])
    return folder


def energy_onsets(audio: np.ndarray, times: list[float], hop: int = 320) -> list[int]:
    """Per note: first frame (hop 320 at 16 kHz) near the note whose energy is above -40 dB of
    the note's peak; the notes are separated by silence."""
    energy = (audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2).mean(1)
    found = []
    for t in times:
        lo = int(t * 50) - 10
        seg = energy[lo: lo + 25]
        found.append(lo + int(np.argmax(seg > seg.max() * 1e-4)))
    return found


def test_render_aligns_with_midi_and_resumes(tmp_path: Path):
    src = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    config = RenderConfig(str(SF2), tail=1.0)
    report = render_corpus([src], out, config, jobs=2, progress=False)
    assert report.rendered == 6 and not report.problems
    entries = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(e["id"] for e in entries) == ["kit/drums", "p000", "p024", "p033", "p040",
                                                "p073"]
    for entry in entries:
        audio, rate = sf.read(str(out / entry["audio"]))
        assert rate == 16000 and audio.ndim == 1
        tracks = read_midi_tracks(out / entry["midi"])
        starts = sorted(float(s) for t in tracks for s in t.notes["start"])
        np.testing.assert_allclose(starts, ONSETS, atol=1e-3)
        end = max(float(t.notes["end"].max()) for t in tracks)
        assert len(audio) == round((end + 1.0) * 16000)  # capped at MIDI end + tail
        frames = energy_onsets(audio, starts)
        assert all(0 <= f - int(s * 50) <= 1 for f, s in zip(frames, starts)), (entry["id"], frames)
        assert entry["split"] == split_of(entry["id"], config.split)
        assert entry["drums"] == (entry["id"] == "kit/drums")
    # resumable: a second run renders nothing and keeps the files
    stamp = (out / "audio" / "p000.wav").stat().st_mtime_ns
    again = render_corpus([src], out, config, jobs=2, progress=False)
    assert again.rendered == 0 and again.skipped_existing == 6
    assert (out / "audio" / "p000.wav").stat().st_mtime_ns == stamp


def test_random_programs_and_bad_files(tmp_path: Path, capsys):
    src = make_inputs(tmp_path / "in")
    (src / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    write_midi(src / "empty.mid", [{"notes": []}])
    out = tmp_path / "out"
    status = run_command("render", ["render", str(src), "-o", str(out), "--soundfont", str(SF2),
                                    "--random-programs", "--variants", "2", "--jobs", "2",
                                    "--no-progress"])
    assert status == 0
    text = capsys.readouterr()
    assert "4 skipped" in text.out  # each of the two variants of the two bad files
    assert "broken.mid" in text.err and "empty.mid" in text.err
    entries = {json.loads(x)["id"]: json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()}
    assert len(entries) == 12 and "p000~v1" in entries
    for uid, entry in entries.items():  # variants share the split of their score
        assert entry["split"] == entries[entry["score"]]["split"]
        assert entry["score"] == uid.split("~")[0]
    assert entries["p000"]["programs"] != entries["p000~v1"]["programs"]
    programs = {e["programs"][0] for k, e in entries.items() if "drums" not in k}
    assert programs != {0, 24, 33, 40, 73}  # reassigned (seeded, so deterministic)
    for entry in entries.values():
        tracks = read_midi_tracks(out / entry["midi"])
        assert sorted({t.program for t in tracks if not t.is_drum}) == entry["programs"]
    assert entries["kit/drums"]["programs"] == [] and entries["kit/drums~v1"]["drums"]


def test_bounded_render_kills_overrun(tmp_path: Path):
    out = tmp_path / "endless.wav"
    writer = f"while true; do head -c 65536 /dev/zero; sleep 0.001; done > {out}"
    problem = run_bounded(["sh", "-c", writer], out, max_bytes=2_000_000, timeout=30)
    assert problem is not None and "killed" in problem
    size = out.stat().st_size
    time.sleep(0.3)
    assert out.stat().st_size == size < 20_000_000  # the whole process group was killed
    problem = run_bounded(["sleep", "5"], tmp_path / "none.wav", max_bytes=10, timeout=0.3)
    assert problem is not None and "longer than" in problem


def test_render_cli_defaults_parse(tmp_path: Path):
    status = run_command("render", ["render", str(tmp_path / "missing"), "-o", str(tmp_path),
                                    "--soundfont", str(SF2)])
    assert status == 2


def test_output_inside_input_folder_is_not_re_rendered(tmp_path: Path):
    src = make_inputs(tmp_path / "in")
    out = src / "rendered"
    config = RenderConfig(str(SF2), tail=0.5)
    assert render_corpus([src], out, config, jobs=2, progress=False).rendered == 6
    again = render_corpus([src], out, config, jobs=2, progress=False)
    assert again.rendered == 0 and again.skipped_existing == 6 and not again.problems


def test_a_track_ending_long_after_its_last_note_renders_only_the_music(tmp_path: Path):
    import mido

    from specdiff.data.midi_edit import end_at_last_note

    src = tmp_path / "in"
    write_midi(src / "late_end.mid", [{"notes": [(0.5, 1.5, 60), (1.0, 2.0, 64)], "program": 0}])
    midi = mido.MidiFile(str(src / "late_end.mid"))
    midi.tracks[-1][-1].time += 600 * midi.ticks_per_beat * 2  # end of track 10 min later
    midi.save(str(src / "late_end.mid"))
    assert mido.MidiFile(str(src / "late_end.mid")).length > 600

    trimmed = mido.MidiFile(str(src / "late_end.mid"))
    assert end_at_last_note(trimmed) > 0 and end_at_last_note(trimmed) == 0  # idempotent
    assert abs(trimmed.length - 2.0) < 0.01
    assert sum(m.type == "note_on" for t in trimmed.tracks for m in t) == 2

    report = render_corpus([src], tmp_path / "out", RenderConfig(str(SF2), tail=1.0),
                           progress=False)
    assert report.rendered == 1 and not report.problems
    entry = json.loads((tmp_path / "out" / "manifest.jsonl").read_text())
    assert abs(entry["duration"] - 3.0) < 0.05
