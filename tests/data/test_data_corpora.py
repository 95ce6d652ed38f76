"""Each corpus module on a tiny fake copy of its real layout: pairs, splits, programs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_fakes import (
    SCALE,
    make_guitarset,
    make_maestro,
    make_musicnet,
    make_slakh,
    make_urmp,
    run_command,
)

from specdiff.data.example import list_examples, load_notes
from specdiff.errors import SpecdiffError


def by_split(examples):
    out = {}
    for ex in examples:
        out.setdefault(ex.split, []).append(ex)
    return out


def test_maestro(tmp_path: Path):
    root = make_maestro(tmp_path / "maestro-v3.0.0")
    exs = list_examples("maestro", root)
    assert sorted(e.split for e in exs) == ["test", "train", "validation"]
    ex = next(e for e in exs if e.split == "train")
    assert ex.audio == (str(root / "2018/MIDI-Unprocessed_01_R1_2018_wav--1.wav"),)
    assert ex.notes[0].endswith(".midi") and Path(ex.notes[0]).is_file()
    notes = load_notes(ex)
    assert set(notes["program"]) == {0}  # piano, whatever the file says
    assert list(notes["pitch"]) == [60, 61, 62, 63]
    # pedal down 0.1..1.9: each note lasts until the next onset of any pitch? no: until the
    # pedal lifts, since the pitches differ
    np.testing.assert_allclose(notes["end"], [1.9, 1.9, 1.9, 1.9], atol=1e-6)
    assert [e.split for e in list_examples("maestro", root, splits=["val"])] == ["validation"]


def test_musicnet(tmp_path: Path):
    root = make_musicnet(tmp_path / "musicnet")
    exs = by_split(list_examples("musicnet", root))
    assert [e.id for e in exs["train"]] == ["1727"]
    assert [e.id for e in exs["validation"]] == ["2336"]  # pooled from train_data, re-split
    assert [e.id for e in exs["test"]] == ["2118"]
    notes = load_notes(exs["train"][0])
    assert sorted(set(notes["program"])) == [40, 41]  # labels are 1-based (41 violin)
    np.testing.assert_allclose(notes["start"], [s for s, _, _ in SCALE], atol=1 / 44100)
    np.testing.assert_allclose(notes["end"], [e for _, e, _ in SCALE], atol=1 / 44100)


def test_guitarset(tmp_path: Path):
    root = make_guitarset(tmp_path / "GuitarSet")
    exs = by_split(list_examples("guitarset", root))
    assert sorted(e.id for e in exs["train"]) == ["00_BN1-129-Eb_comp", "01_Jazz2-110-Bb_solo"]
    assert [e.id for e in exs["validation"]] == ["05_SS3-98-C_comp"] == [e.id for e in exs["test"]]
    ex = exs["train"][0]
    assert ex.audio == (str(root / "audio_mono-mic" / "00_BN1-129-Eb_comp_mic.wav"),)
    notes = load_notes(ex)
    assert len(notes) == 5 and set(notes["program"]) == {24}
    assert list(notes["pitch"]) == [40, 45, 50, 55, 65]  # round(40.2 + 5 k); string 4 empty


def test_urmp_programs_raw_and_cleaned(tmp_path: Path):
    root = make_urmp(tmp_path / "URMP")
    before = {p: p.read_bytes() for p in root.rglob("*.mid")}
    exs = by_split(list_examples("urmp", root))
    assert [e.id for e in exs["validation"]] == ["01_Jupiter_vn_vc"] == [e.id for e in exs["test"]]
    assert sorted(e.id for e in exs["train"]) == ["03_Dance_fl_cl", "17_Nocturne_vn_sax_tba"]
    raw = {e.id: load_notes(e) for e in exs["train"]}
    trio = raw["17_Nocturne_vn_sax_tba"]
    assert [int(trio["program"][trio["pitch"] == p][0]) for p in (60, 61, 62)] == [40, 64, 58]
    out = tmp_path / "clean"
    assert run_command("clean_urmp_midi", ["clean-urmp-midi", str(root), str(out)]) == 0
    assert {p: p.read_bytes() for p in root.rglob("*.mid")} == before  # inputs untouched
    assert sorted(p.name for p in out.iterdir()) == [
        "01_Jupiter_vn_vc.mid", "03_Dance_fl_cl.mid", "17_Nocturne_vn_sax_tba.mid"]
    cleaned = {e.id: load_notes(e) for e in list_examples("urmp", root, ["train"], midi_root=out)}
    for key, notes in raw.items():
        np.testing.assert_array_equal(cleaned[key], notes)


def test_slakh_submixes_cerberus_and_test_mix(tmp_path: Path):
    root = make_slakh(tmp_path / "slakh2100_flac_redux")
    exs = list_examples("slakh", root)
    train = [e for e in exs if e.split == "train" and e.corpus == "slakh"]
    # 6 rendered stems, 6 programs -> C(6,4)+C(6,5)+C(6,6) = 22 subsets >= 4, sample 10
    assert len(train) == 10 and len({e.id for e in train}) == 10
    assert all(len(e.audio) >= 4 and len(e.audio) == len(e.notes) for e in train)
    assert all("S06" not in a for e in exs for a in e.audio)  # not rendered -> unused
    cerb = [e for e in exs if e.corpus == "cerberus4"]
    assert sum(e.split == "train" for e in cerb) == 15
    assert {e.split for e in cerb} == {"train", "validation", "test"}
    test = [e for e in exs if e.split == "test" and e.corpus == "slakh"]
    assert len(test) == 1 and test[0].audio == (str(root / "test/Track01876/mix.flac"),)
    notes = load_notes(test[0])
    # class programs: 1->0, 27->26, 34->33, 49->48, 17->16; drums flagged
    assert sorted(set(notes["program"][~notes["is_drum"]])) == [0, 16, 26, 33, 48]
    assert notes["is_drum"].sum() == 1 and int(notes["pitch"][notes["is_drum"]][0]) == 55
    full = next(e for e in cerb if e.split == "test")
    cn = load_notes(full)
    assert sorted(set(cn["program"][~cn["is_drum"]])) == [0, 24, 32]
    # listing is deterministic (seeded per track)
    assert [e.id for e in list_examples("slakh", root)] == [e.id for e in exs]


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path):
    for corpus in ("maestro", "musicnet", "guitarset", "urmp", "slakh", "rendered"):
        with pytest.raises(SpecdiffError, match="not found"):
            list_examples(corpus, tmp_path / "nope")
