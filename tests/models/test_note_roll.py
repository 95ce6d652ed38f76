"""note_roll models: the frame-aligned roll decoded from the tokens, and how the decoder uses it."""

from __future__ import annotations

import numpy as np
import torch

from specdiff.codec import NoteSequence, tokenize_notes
from specdiff.codec.encode import pad_segments
from specdiff.diffusion import cfg
from specdiff.models import SpectrogramDiffusion, model_config
from specdiff.models.note_roll import (
    GAP_SECONDS,
    ROLL_FEATURES,
    gap_features,
    note_roll,
    roll_features,
    segment_roll,
)

FPS = 50  # frames per second


def _notes(*notes) -> NoteSequence:
    """(start, end, pitch, program, is_drum) tuples -> notes with velocity 100."""
    start, end, pitch, program, drum = zip(*notes)
    return NoteSequence.from_arrays(start, end, pitch, [100] * len(notes), program, drum)


def test_roll_marks_sounding_pitches_onsets_drums_and_programs():
    # program 0 (piano) keeps its number under the Slakh program map; so does drum key 36
    seq = _notes((0.5, 1.0, 60, 0, False), (0.7, 2.0, 64, 0, False), (1.5, 1.51, 36, 0, True))
    (ids,) = tokenize_notes(seq)
    roll = segment_roll(ids, 256)
    assert roll.shape == (256, ROLL_FEATURES) and set(np.unique(roll)) == {0.0, 1.0}
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 60]), np.arange(25, 50))
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 64]), np.arange(35, 100))
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 128 + 60]), [25])
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 128 + 64]), [35])
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 256 + 36]), [75])
    np.testing.assert_array_equal(np.flatnonzero(roll[:, 384]), np.arange(25, 100))
    assert roll[:, 36].sum() == 0  # a drum is not a sounding pitch
    assert roll.sum() == 25 + 65 + 1 + 1 + 1 + 75


def test_a_note_tied_into_the_next_segment_sounds_from_its_first_frame():
    seq = _notes((4.0, 6.0, 67, 40, False))  # 5.12 s segments: crosses into the second
    first, second = tokenize_notes(seq)
    late = segment_roll(first, 256)
    np.testing.assert_array_equal(np.flatnonzero(late[:, 67]), np.arange(200, 256))
    tied = segment_roll(second, 256)
    np.testing.assert_array_equal(np.flatnonzero(tied[:, 67]), np.arange(0, round(0.88 * FPS)))
    assert tied[:, 128:256].sum() == 0  # continued, not restarted


def test_batched_roll_matches_rows_and_pad_rows_are_empty():
    a = tokenize_notes(_notes((0.1, 0.3, 50, 0, False)))[0]
    b = tokenize_notes(_notes((1.0, 2.0, 72, 56, False), (1.2, 1.3, 38, 0, True)))[0]
    tokens = torch.from_numpy(pad_segments([a, b, np.zeros(0, dtype=np.int64)], 64))
    rolls = note_roll(tokens, 256)
    assert rolls.shape == (3, 256, ROLL_FEATURES) and rolls.dtype == torch.float32
    np.testing.assert_array_equal(rolls[0].numpy(), segment_roll(a, 256))
    np.testing.assert_array_equal(rolls[1].numpy(), segment_roll(b, 256))
    assert rolls[2].sum() == 0


def test_gap_features_count_frames_since_anything_last_happened():
    active = np.zeros(200, dtype=bool)
    active[[10, 11, 12, 100]] = True
    gaps = gap_features(active, FPS)
    assert gaps.shape == (200, len(GAP_SECONDS))
    for k, seconds in enumerate(GAP_SECONDS):
        n = round(seconds * FPS)
        expected = [f >= n - 1 and not active[f - n + 1 : f + 1].any() for f in range(200)]
        np.testing.assert_array_equal(gaps[:, k], expected)
    # spelled out for 0.25 s (12 frames): never before frame 11, then off after each event
    np.testing.assert_array_equal(np.flatnonzero(gaps[:60, 0]), np.arange(24, 60))
    assert not gaps[:49, 3].any() and not gaps[:, 3].any()  # 2 s = 100 frames: never quiet that long


def test_a_roll_with_gaps_says_where_the_music_stopped():
    # a note until 1 s and a drum hit at 1.5 s, then nothing until the segment ends at 5.12 s
    seq = _notes((0.0, 1.0, 60, 0, False), (1.5, 1.51, 38, 0, True))
    (ids,) = tokenize_notes(seq)
    roll = segment_roll(ids, 256, gaps=True)
    assert roll.shape == (256, roll_features(True)) == (256, ROLL_FEATURES + len(GAP_SECONDS))
    np.testing.assert_array_equal(roll[:, :ROLL_FEATURES], segment_roll(ids, 256))
    # the note sounds in frames 0-49, the drum hits in frame 75: a short gap between them
    expected = {0.25: [*range(61, 75), *range(87, 256)], 0.5: [74, *range(100, 256)],
                1.0: range(125, 256), 2.0: range(175, 256)}
    for k, seconds in enumerate(GAP_SECONDS):
        quiet = np.flatnonzero(roll[:, ROLL_FEATURES + k])
        np.testing.assert_array_equal(quiet, list(expected[seconds]))
    # an empty segment is a gap everywhere, once far enough from its start
    (empty,) = tokenize_notes(_notes((9.0, 9.5, 60, 0, False)))[:1]
    quiet = segment_roll(empty, 256, gaps=True)[:, ROLL_FEATURES:]
    assert quiet[-1].all() and not quiet[: round(0.25 * FPS) - 1].any()
    # but a PAD row (conditioning dropped in classifier-free training) is no conditioning at
    # all, not silence: all zero, like the unconditional rows of guided sampling
    tokens = torch.from_numpy(pad_segments([empty, np.zeros(0, dtype=np.int64)], 64))
    rolls = note_roll(tokens, 256, gaps=True)
    assert rolls[0, -1, ROLL_FEATURES:].all() and not rolls[1].any()


def _tiny(note_roll: bool) -> SpectrogramDiffusion:
    torch.manual_seed(0)
    config = model_config("tiny", has_context=True, prediction="v", note_roll=note_roll)
    return SpectrogramDiffusion(config).eval()


def test_the_decoder_reads_the_roll_of_its_tokens():
    model = _tiny(True)
    ids = tokenize_notes(_notes((0.5, 1.0, 60, 0, False)))[0]
    tokens = torch.from_numpy(pad_segments([ids], 32))
    x_t = torch.randn(1, 256, 128, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.5])
    with torch.no_grad():
        conditioning = model.encode(tokens)
        assert conditioning.keys.shape[1] == conditioning.mask.shape[1] == len(ids)  # trimmed
        assert conditioning.frames.shape == (1, 256, model.config.d_model)  # one row a frame
        with_roll = model.predict(x_t, t, conditioning)
        model.roll_proj.weight.zero_()
        without = model.predict(x_t, t, model.encode(tokens))
    changed = (with_roll - without).abs().amax(dim=2)[0]  # (256,) per frame
    # Frames 25..49 hold the note. The decoder's self-attention spreads its effect, but it
    # starts in those frames and is largest there.
    assert changed[25:50].min() > 0
    assert int(changed.argmax()) in range(25, 50)


def test_unconditional_rows_get_no_roll():
    model = _tiny(True)
    ids = tokenize_notes(_notes((0.5, 1.0, 60, 0, False), (2.0, 3.0, 48, 33, False)))[0]
    tokens = torch.from_numpy(pad_segments([ids, ids], 48))
    x_t = torch.randn(2, 256, 128, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0.4, 0.4])
    with torch.no_grad():
        conditioning = model.encode(tokens)
        memory = model.memory(conditioning)
        mixed = model.predict(x_t, t, memory, torch.tensor([True, False]))
        empty = model.predict(x_t[1:], t[1:], model.encode(torch.zeros_like(tokens[1:])))
        full = model.predict(x_t[:1], t[:1], model.encode(tokens[:1]))
        guided = cfg(model.eps_fn(conditioning), 2.0)(x_t, t)
    torch.testing.assert_close(mixed[1:], empty, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mixed[:1], full, atol=1e-5, rtol=1e-4)
    assert torch.isfinite(guided).all() and guided.shape == x_t.shape


def test_saved_note_roll_model_round_trips(tmp_path):
    model = _tiny(True)
    path = model.save_pretrained(tmp_path / "roll.safetensors")
    loaded = SpectrogramDiffusion.from_pretrained(path)
    assert loaded.config.note_roll and loaded.roll_proj is not None
    torch.testing.assert_close(loaded.roll_proj.weight, model.roll_proj.weight)
    assert _tiny(False).roll_proj is None
