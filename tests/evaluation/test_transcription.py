"""Transcription F1 with basic-pitch's ONNX model against the input MIDI (drums excluded)."""

import numpy as np
import pytest

from specdiff.evaluation import midi_reference_notes, note_scores

pytestmark = pytest.mark.integration


def test_f1_is_high_on_renders_of_the_midi(rendered, transcriber):
    for stem in ("song_a", "song_b"):
        midi, _, audio = rendered[stem]
        ref = midi_reference_notes(midi, duration=len(audio) / 16000)
        assert len(ref) == 24
        est = transcriber.transcribe(audio, 16000)
        scores = note_scores(ref, est)
        assert scores["onset_f1"] > 0.6, (stem, scores)
        assert 0.0 <= scores["onset_offset_f1"] <= scores["onset_f1"]


def test_f1_is_near_zero_on_silence_and_shuffled_audio(rendered, transcriber):
    midi, _, audio = rendered["song_a"]
    ref = midi_reference_notes(midi)
    assert note_scores(ref, transcriber.transcribe(np.zeros_like(audio), 16000))["onset_f1"] == 0
    # shuffle 50 ms blocks: the same spectrum, no musical timing
    n = len(audio) // 800 * 800
    blocks = audio[:n].reshape(-1, 800).copy()
    np.random.default_rng(0).shuffle(blocks)
    shuffled = note_scores(ref, transcriber.transcribe(blocks.reshape(-1), 16000))
    assert shuffled["onset_f1"] < 0.2, shuffled


def test_transcription_is_deterministic_and_resamples(rendered, transcriber):
    _, _, audio = rendered["song_b"]
    first = transcriber.transcribe(audio, 16000)
    np.testing.assert_array_equal(first, transcriber.transcribe(audio, 16000))
    assert first.shape[1] == 3 and (first[:, 1] > first[:, 0]).all()
    assert transcriber.transcribe(np.zeros(0, np.float32), 16000).shape == (0, 3)


def test_drums_are_excluded_from_the_reference(rendered):
    midi, _, _ = rendered["song_c"]  # piano + strings + a drum track of 16 hits
    notes = midi_reference_notes(midi)
    assert len(notes) == 24
    assert midi_reference_notes(midi, duration=1.0)[:, 0].max() < 1.0


def test_note_scores_edge_cases():
    ref = np.array([[0.0, 0.5, 60], [0.5, 1.0, 64], [1.0, 2.0, 67]])
    perfect = note_scores(ref, ref)
    assert perfect["onset_f1"] == perfect["onset_offset_f1"] == 1.0
    late = ref + np.array([0.2, 0.2, 0])  # onsets off by 200 ms > 50 ms tolerance
    assert note_scores(ref, late)["onset_f1"] == 0.0
    short = ref.copy()
    short[:, 1] = short[:, 0] + 0.05  # right onsets, wrong offsets
    scores = note_scores(ref, short)
    assert scores["onset_f1"] == 1.0 and scores["onset_offset_f1"] == 0.0
    assert note_scores(ref, np.zeros((0, 3)))["onset_f1"] == 0.0
    assert np.isnan(note_scores(np.zeros((0, 3)), ref)["onset_f1"])


def test_same_notes_as_basic_pitch_own_predict(rendered, transcriber):
    """Our onnxruntime windowing reproduces ``basic_pitch.inference.predict`` exactly."""
    import librosa
    from basic_pitch.inference import Model, predict

    from specdiff.evaluation.transcription import basic_pitch_model_path

    _, wav, _ = rendered["song_b"]
    _, _, events = predict(wav, Model(basic_pitch_model_path()))
    theirs = np.array([[s, e, p] for s, e, p, *_ in events])
    theirs = theirs[np.lexsort((theirs[:, 1], theirs[:, 2], theirs[:, 0]))]
    audio, _ = librosa.load(wav, sr=22050, mono=True)  # predict's own loading
    np.testing.assert_array_equal(transcriber.transcribe(audio, 22050), theirs)
