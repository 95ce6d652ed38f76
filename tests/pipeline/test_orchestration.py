"""Re-orchestration (``--program`` / ``--program-map``): parsing, note edits, and what the model sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdiff.codec import NoteSequence, read_midi, tokenize_notes
from specdiff.errors import SpecdiffError
from specdiff.instruments import DRUMS, orchestrate, parse_instrument, parse_program_map


@pytest.mark.parametrize("text, key", [("40", 40), ("violin", 40), ("Violin", 40),
                                       ("acoustic grand", 0), ("acoustic-grand-piano", 0), ("nylon", 24),
                                       ("drums", DRUMS), ("128", DRUMS), (" flute ", 73)])
def test_parse_instrument_reads_numbers_names_and_prefixes(text, key):
    assert parse_instrument(text) == key


@pytest.mark.parametrize("text, message", [("piano", "ambiguous"), ("kazoo", "not a GM"),
                                           ("129", "expected a GM program")])
def test_parse_instrument_errors_name_the_problem(text, message):
    with pytest.raises(SpecdiffError, match=message):
        parse_instrument(text)


def test_parse_program_map():
    assert parse_program_map("0:40, drums:12") == {0: 40, DRUMS: 12}
    assert parse_program_map("acoustic grand piano:violin,") == {0: 40}
    for bad, message in [("0-40", "expected OLD:NEW"), ("0:40,0:41", "mapped twice"),
                         (",", "no OLD:NEW"), ("0:", "expected OLD:NEW")]:
        with pytest.raises(SpecdiffError, match=message):
            parse_program_map(bad)


def test_orchestrate_maps_then_replaces_pitched_parts_and_keeps_the_drums():
    notes = NoteSequence([0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 2.5, 3.5], [60, 62, 36, 40],
                         [100] * 4, [0, 33, 0, 48], [False, False, True, False])
    mapped = orchestrate(notes, program_map={0: 40, DRUMS: 13})
    assert mapped.program.tolist() == [40, 33, 13, 48] and not mapped.is_drum.any()
    assert orchestrate(notes, program=73).program.tolist() == [73, 73, 0, 73]
    assert orchestrate(notes, program=73).is_drum.tolist() == [False, False, True, False]
    both = orchestrate(notes, program=73, program_map={DRUMS: 13})  # the map applies first
    assert both.program.tolist() == [73] * 4 and not both.is_drum.any()
    np.testing.assert_array_equal(both.start, notes.start)
    assert orchestrate(notes) is notes


def test_synthesis_conditions_on_the_new_instruments(tmp_path):
    from test_pipeline import tiny, write_midi

    from specdiff.synthesizer import synthesize

    midi = write_midi(tmp_path / "song.mid")
    model, seen = tiny(), []
    original = model.encode
    model.encode = lambda tokens, *a, **k: seen.append(tokens.clone()) or original(tokens, *a, **k)
    synthesize(midi, model, steps=1, vocoder="griffin-lim", progress=False, program=40)
    expected = tokenize_notes(orchestrate(read_midi(midi), program=40))
    assert len(seen) == len(expected)
    for tokens, ids in zip(seen, expected):
        assert torch.equal(tokens[0, : len(ids)], torch.as_tensor(ids))
    assert tokenize_notes(read_midi(midi))[0].tolist() != expected[0].tolist()


def test_synth_cli_rejects_bad_instruments(tmp_path, capsys):
    from test_pipeline import write_midi

    from specdiff.cli import main

    midi = write_midi(tmp_path / "song.mid")
    cases = [(["--program", "kazoo"], "'kazoo': not a GM program"),
             (["--program", "drums"], "--program drums"),
             (["--program-map", "0=40"], "expected OLD:NEW")]
    for option, message in cases:
        assert main(["synth", str(midi), "-o", str(tmp_path / "x.wav"), *option]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()
