"""Tiny fake copies of the real corpus layouts (file names and formats as released)."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
import yaml

RATE = 44100


def tone(seconds: float, rate: int = RATE, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, 1) if channels > 1 else x


def write_audio(path: Path, seconds: float, rate: int = RATE, freq: float = 440.0,
                channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, rate, freq, channels), rate)


def write_midi(path: Path, tracks: list[dict], tpq: int = 480, tempo: int = 500000) -> None:
    """Format-1 MIDI: a meta track, then one track per dict with keys ``notes`` ([(start s,
    end s, pitch)]), optional ``program``, ``channel`` and ``pedal`` ([(time s, value)])."""
    # Not tests/midi_files.py (format 0, notes only): the fakes copy the released corpora's
    # layout, a meta track plus one track per part, with sustain-pedal events.
    midi = mido.MidiFile(type=1, ticks_per_beat=tpq)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    midi.tracks.append(meta)
    ticks = lambda s: round(s * 1e6 / tempo * tpq)
    for spec in tracks:
        ch = spec.get("channel", 0)
        events = []
        for start, end, pitch in spec["notes"]:
            events.append((ticks(start), 1, mido.Message("note_on", channel=ch, note=pitch,
                                                         velocity=90)))
            events.append((ticks(end), 0, mido.Message("note_off", channel=ch, note=pitch)))
        for time, value in spec.get("pedal", []):
            events.append((ticks(time), 2, mido.Message("control_change", channel=ch,
                                                        control=64, value=value)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        if "program" in spec:
            track.append(mido.Message("program_change", channel=ch, program=spec["program"]))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(path))


SCALE = [(0.5 * i, 0.5 * i + 0.4, 60 + i) for i in range(4)]  # four notes in 2 s


def make_maestro(root: Path) -> Path:
    rows = [("train", "2018/MIDI-Unprocessed_01_R1_2018_wav--1"),
            ("validation", "2017/MIDI-Unprocessed_02_R1_2017_wav--2"),
            ("test", "2004/MIDI-Unprocessed_03_R1_2004_wav--3")]
    table = {k: {} for k in ("canonical_composer", "canonical_title", "split", "year",
                             "midi_filename", "audio_filename", "duration")}
    for i, (split, stem) in enumerate(rows):
        write_audio(root / f"{stem}.wav", 3.0, channels=2)
        write_midi(root / f"{stem}.midi", [{"notes": SCALE, "program": 5,
                                             "pedal": [(0.1, 127), (1.9, 0)]}])
        for key, value in (("canonical_composer", "X"), ("canonical_title", "Y"),
                           ("split", split), ("year", int(stem[:4])),
                           ("midi_filename", f"{stem}.midi"),
                           ("audio_filename", f"{stem}.wav"), ("duration", 3.0)):
            table[key][str(i)] = value
    (root / "maestro-v3.0.0.json").write_text(json.dumps(table))
    return root


def make_musicnet(root: Path) -> Path:
    header = "start_time,end_time,instrument,note,start_beat,end_beat,note_value\n"
    for part, ids in (("train", (1727, 2336)), ("test", (2118,))):
        for i in ids:
            write_audio(root / f"{part}_data" / f"{i}.wav", 2.5)
            rows = "".join(f"{int(s * RATE)},{int(e * RATE)},{41 + k % 2},{p},{k}.0,0.5,Quarter\n"
                           for k, (s, e, p) in enumerate(SCALE))
            (root / f"{part}_labels").mkdir(parents=True, exist_ok=True)
            (root / f"{part}_labels" / f"{i}.csv").write_text(header + rows)
    return root


def make_guitarset(root: Path) -> Path:
    for title in ("00_BN1-129-Eb_comp", "01_Jazz2-110-Bb_solo", "05_SS3-98-C_comp"):
        anns = []
        for string in range(6):
            data = ([{"time": 0.25 * string, "duration": 0.5, "value": 40.2 + 5 * string,
                      "confidence": None}] if string != 4 else [])
            anns.append({"namespace": "note_midi", "data": data, "sandbox": {},
                         "annotation_metadata": {"data_source": str(string)}})
        anns.append({"namespace": "pitch_contour", "data": [{"time": 0.0, "duration": 0.0,
                     "value": {"index": 0, "frequency": 82.4, "voiced": True},
                     "confidence": None}], "sandbox": {}, "annotation_metadata": {}})
        doc = {"annotations": anns, "file_metadata": {"title": title, "duration": 2.0},
               "sandbox": {}}
        (root / "annotation").mkdir(parents=True, exist_ok=True)
        (root / "annotation" / f"{title}.jams").write_text(json.dumps(doc))
        write_audio(root / "audio_mono-mic" / f"{title}_mic.wav", 2.0)
    return root


def make_urmp(root: Path) -> Path:
    for folder in ("01_Jupiter_vn_vc", "03_Dance_fl_cl", "17_Nocturne_vn_sax_tba"):
        codes = folder.split("_")[2:]
        write_audio(root / folder / f"AuMix_{folder}.wav", 2.5, rate=48000)
        write_midi(root / folder / f"Sco_{folder}.mid",
                   [{"notes": SCALE[k:k + 1], "program": 0, "channel": k}
                    for k in range(len(codes))])
        (root / folder / f"Notes_1_{codes[0]}_{folder[:2]}_x.txt").write_text("0.1 440 0.2\n")
    return root


SLAKH_STEMS = {  # stem -> (inst_class, program_num, is_drum)
    "S00": ("Piano", 1, False), "S01": ("Guitar", 27, False), "S02": ("Bass", 34, False),
    "S03": ("Drums", 0, True), "S04": ("Strings", 49, False), "S05": ("Organ", 17, False),
}


def make_slakh(root: Path) -> Path:
    for split, track in (("train", "Track00001"), ("validation", "Track01501"),
                         ("test", "Track01876")):
        base = root / split / track
        stems = {}
        for k, (sid, (cls, prog, drum)) in enumerate(SLAKH_STEMS.items()):
            stems[sid] = {"audio_rendered": True, "inst_class": cls, "integrated_loudness": -20.0,
                          "is_drum": drum, "midi_program_name": cls, "midi_saved": True,
                          "plugin_name": "x.nkm", "program_num": prog}
            write_audio(base / "stems" / f"{sid}.flac", 2.0, freq=200.0 + 50 * k)
            write_midi(base / "MIDI" / f"{sid}.mid",
                       [{"notes": [(0.2 * k, 0.2 * k + 0.5, 40 + 5 * k)],
                         "program": prog, "channel": 9 if drum else 0}])
        stems["S06"] = {"audio_rendered": False, "inst_class": "Brass", "is_drum": False,
                        "midi_program_name": "Trumpet", "midi_saved": True, "plugin_name": "",
                        "program_num": 56}  # not rendered: no audio file
        write_midi(base / "MIDI" / "S06.mid", [{"notes": [(0.0, 1.0, 70)], "program": 56}])
        write_audio(base / "mix.flac", 2.0)
        write_midi(base / "all_src.mid", [{"notes": SCALE, "program": 0}])
        meta = {"UUID": "abc", "audio_dir": "stems", "midi_dir": "MIDI", "normalized": True,
                "overall_gain": 0.2, "stems": stems, "target_peak": -1.0}
        (base / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return root


def run_command(module: str, argv: list[str]) -> int:
    """Run one specdiff subcommand in-process as ``specdiff.cli.main`` would (exit status)."""
    import argparse
    import importlib

    from specdiff.errors import SpecdiffError

    parser = argparse.ArgumentParser(prog="specdiff")
    sub = parser.add_subparsers(dest="command", required=True)
    importlib.import_module(f"specdiff.commands.{module}").register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpecdiffError as error:
        print(f"specdiff {args.command}: error: {error}")
        return 2
