"""Transcription F1 offline: basic-pitch's shipped ONNX model (onnxruntime, no TensorFlow) and
mir_eval note scores against the input MIDI.

This substitutes for the paper's MT3-based F1 (MT3 weights are not available offline), so the
absolute numbers are not comparable to the paper's; compare generated audio against the same
score on the reference audio. Drum notes are excluded from the reference (basic-pitch
transcribes pitched notes only).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

import numpy as np

from specdiff.errors import SpecdiffError

BASIC_PITCH_SAMPLE_RATE = 22050
_FFT_HOP = 256
_WINDOW = BASIC_PITCH_SAMPLE_RATE * 2 - _FFT_HOP  # 43844 samples per model call
_OVERLAP_FRAMES = 30
_OVERLAP = _OVERLAP_FRAMES * _FFT_HOP
_FRAMES_PER_SECOND = BASIC_PITCH_SAMPLE_RATE // _FFT_HOP  # 86
NOTE_SCORE_KEYS = (
    "onset_precision", "onset_recall", "onset_f1",
    "onset_offset_precision", "onset_offset_recall", "onset_offset_f1",
)  # fmt: skip


def basic_pitch_model_path() -> Path:
    """The ``nmp.onnx`` file inside the installed basic-pitch package (found without importing
    it, since its ``__init__`` logs warnings about missing TF / CoreML backends)."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        raise SpecdiffError(
            "transcription F1 needs basic-pitch: pip install --no-deps basic-pitch==0.4.0 "
            "onnxruntime (its declared dependencies would pull TensorFlow)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "saved_models/icassp_2022/nmp.onnx"
    if not path.is_file():
        raise SpecdiffError(f"{path}: basic-pitch's ONNX model is missing from the package")
    return path


def _note_creation():
    """basic_pitch.note_creation, imported with its backend warnings silenced."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        from basic_pitch import note_creation
    finally:
        root.setLevel(level)
    return note_creation


class BasicPitchTranscriber:
    """Audio -> note events with basic-pitch's ICASSP 2022 model through onnxruntime.

    The windowing (2 s windows, 30-frame overlap) and note thresholds are basic-pitch's defaults
    (onset 0.5, frame 0.3, min note 127.7 ms, melodia trick).
    """

    identity = "basic-pitch-0.4-icassp2022-onnx-v1"

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise SpecdiffError(
                "transcription F1 needs onnxruntime: pip install onnxruntime"
            ) from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path or basic_pitch_model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def model_output(self, audio_22k: np.ndarray) -> dict[str, np.ndarray]:
        """(n,) mono audio at 22.05 kHz -> {"note": (F, 88), "onset": (F, 88), "contour": ...}."""
        n = len(audio_22k)
        audio = np.concatenate([np.zeros(_OVERLAP // 2, np.float32), audio_22k.astype(np.float32)])
        hop = _WINDOW - _OVERLAP
        windows = []
        for start in range(0, len(audio), hop):
            w = audio[start : start + _WINDOW]
            windows.append(np.pad(w, (0, _WINDOW - len(w))))
        batch = np.stack(windows)[:, :, None]  # (W, 43844, 1)
        names = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2",
                 "StatefulPartitionedCall:0"]  # fmt: skip
        outs = [self.session.run(names, {"serving_default_input_2:0": batch[i : i + 1]})
                for i in range(len(batch))]  # fmt: skip
        half = _OVERLAP_FRAMES // 2
        n_frames = int(np.floor(n * (_FRAMES_PER_SECOND / BASIC_PITCH_SAMPLE_RATE)))
        result = {}
        for k, key in enumerate(["note", "onset", "contour"]):
            stacked = np.concatenate([o[k] for o in outs])[:, half:-half]  # (W, t, bins)
            result[key] = stacked.reshape(-1, stacked.shape[-1])[:n_frames]
        return result

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n,) mono audio -> (N, 3) float array of notes [onset s, offset s, MIDI pitch]."""
        from specdiff.evaluation.embeddings import resample

        audio = np.nan_to_num(np.asarray(audio, np.float32).reshape(-1))
        if audio.size == 0:
            return np.zeros((0, 3))
        output = self.model_output(resample(audio, sample_rate, BASIC_PITCH_SAMPLE_RATE))
        creation = _note_creation()
        min_len = int(np.round(127.70 / 1000 * (BASIC_PITCH_SAMPLE_RATE / _FFT_HOP)))
        # pretty_midi / note creation are not known to be thread-safe; silent audio divides 0/0
        with self._lock, np.errstate(invalid="ignore", divide="ignore"):
            _, events = creation.model_output_to_notes(
                output, onset_thresh=0.5, frame_thresh=0.3, min_note_len=min_len,
                melodia_trick=True, midi_tempo=120,
            )  # fmt: skip
        notes = np.array([[s, e, p] for s, e, p, *_ in events], np.float64).reshape(-1, 3)
        return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]  # by onset, pitch, offset


def midi_reference_notes(path: str | Path, duration: float | None = None) -> np.ndarray:
    """Pitched (non-drum) notes of a MIDI file as (N, 3) [onset s, offset s, pitch].

    Args:
        duration: when given, notes starting at or after it are dropped (audio that covers only
            the first ``duration`` seconds of the MIDI).
    """
    from specdiff.codec import read_midi

    seq = read_midi(path)  # note-seq semantics: sustain pedal applied
    keep = ~seq.is_drum
    notes = np.stack([seq.start[keep], seq.end[keep], seq.pitch[keep].astype(np.float64)], -1)
    if duration is not None:
        notes = notes[notes[:, 0] < duration]
    return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]  # by onset, pitch, offset


def note_scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """mir_eval note precision / recall / F1, onset only and onset + offset (default tolerances:
    50 ms onsets; offsets within 20 % of the note or 50 ms).

    Args:
        reference, estimate: (N, 3) [onset s, offset s, MIDI pitch] arrays.
    Returns:
        dict with the keys of ``NOTE_SCORE_KEYS``; all NaN when the reference has no notes.
    """
    import mir_eval

    if len(reference) == 0:
        return {k: float("nan") for k in NOTE_SCORE_KEYS}
    if len(estimate) == 0:
        return {k: 0.0 for k in NOTE_SCORE_KEYS}

    def split(notes):
        intervals = notes[:, :2].copy()
        intervals[:, 1] = np.maximum(intervals[:, 1], intervals[:, 0] + 1e-3)  # mir_eval: > 0
        return intervals, mir_eval.util.midi_to_hz(notes[:, 2])

    ref_i, ref_p = split(reference)
    est_i, est_p = split(estimate)
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, offset_ratio=None
    )
    po, ro, fo, _ = mir_eval.transcription.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p)
    return dict(zip(NOTE_SCORE_KEYS, map(float, (p, r, f, po, ro, fo))))
