"""Training windows: 5.12 s of audio on the 20 ms frame grid, its log-mel, its token segment
(ties at the window start) and, for context models, the previous 5.12 s of log-mel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from specdiff.data.midi import notes_to_sequence

# read(start_sample, num_samples) -> float32 (num_samples,), zeros outside the recording
AudioReader = Callable[[int, int], np.ndarray]


def _official_codec():
    from specdiff.codec import OFFICIAL_CODEC

    return OFFICIAL_CODEC


@dataclass(frozen=True)
class WindowConfig:
    """What a training sample holds.

    Attributes:
        num_frames: frames per window (256 x 20 ms = 5.12 s).
        context: also return the previous ``num_frames`` frames of log-mel and their mask.
        program_map: map melodic programs to Slakh class programs when tokenizing (what the
            official inference does, so train and inference agree).
        features: ``"mel"`` (scaled log-mel; computed per window like the official pipeline,
            from the window's own samples with the end zero-padded, unless the cache has a mel
            store), ``"audio"`` (raw samples only) or ``"both"``.
        codec: ``specdiff.codec.CodecConfig`` (default: the official codec).
        past_end: windows may start at any frame of the recording and run past its end, the
            rest being silence with no notes (like the official recipe's partial chunks): the
            only windows that show a model where music stops. A window that starts after the
            last note event has an empty tie section (the reference codec would repeat the
            notes that ended at that event). False: windows stay inside.
        end_windows: with ``past_end``, this many more windows per recording whose start is
            drawn from its last ``num_frames`` frames, so that each one runs into the silence
            after the music (about half of it on average): more such windows than the one
            partial window per recording that ``past_end`` alone gives.
    """

    num_frames: int = 256
    context: bool = False
    program_map: bool = True
    features: str = "mel"
    codec: object = field(default_factory=_official_codec)
    past_end: bool = False
    end_windows: int = 0

    def __post_init__(self):
        if self.end_windows < 0 or (self.end_windows and not self.past_end):
            raise ValueError("end_windows needs past_end=True and must be >= 0")

    @property
    def hop_length(self) -> int:
        return self.codec.hop_length

    @property
    def num_samples(self) -> int:
        return self.num_frames * self.hop_length


def num_audio_frames(num_samples: int, hop_length: int = 320) -> int:
    """Frames covering a recording: ceil(n / hop)."""
    return -(-num_samples // hop_length)


def num_windows(num_samples: int, config: WindowConfig) -> int:
    """Examples a recording contributes (whole windows, at least 1): the mixture's count. With
    ``config.past_end`` one more for a partial last window: its starts run to the last frame;
    then ``config.end_windows`` more that all run past the end (`end_window_start`)."""
    frames = num_audio_frames(num_samples, config.hop_length)
    if config.past_end:
        return max(1, -(-frames // config.num_frames)) + config.end_windows
    return max(1, frames // config.num_frames)


def end_window_start(num_samples: int, config: WindowConfig, draw: int) -> int:
    """Start of an extra end window (``config.end_windows``): frame ``draw`` (0 <= draw <
    num_frames) counted back from the recording's last frame, never before frame 0."""
    return max(0, max_start_frame(num_samples, config) - draw)


def max_start_frame(num_samples: int, config: WindowConfig) -> int:
    """Largest window start: with the window inside the recording (0 for short ones), or with
    ``config.past_end`` the recording's last frame."""
    frames = num_audio_frames(num_samples, config.hop_length)
    return max(0, frames - 1 if config.past_end else frames - config.num_frames)


def window_notes(notes: np.ndarray, start_frame: int, config: WindowConfig) -> np.ndarray:
    """The notes that can affect the window's tokens: everything else is dropped so tokenizing
    stays fast on long pieces. ``tokenize_window`` gives identical ids on the subset.

    Notes that end before min(window start, last event) cannot be active at the tie point and
    have no events in the window; notes starting after the window only matter through the last
    event time (kept via one such note when the window itself holds no later event).
    """
    if len(notes) == 0:
        return notes
    sec_per_frame = config.hop_length / config.codec.sample_rate
    margin = 2.0 / config.codec.steps_per_second  # beyond any rounding to shift steps
    t0 = start_frame * sec_per_frame
    t1 = (start_frame + config.num_frames) * sec_per_frame
    melodic_end = notes["end"][~notes["is_drum"]]
    t_last = max(float(notes["start"].max()), float(melodic_end.max()) if len(melodic_end) else 0.0)
    keep_left = notes["end"] >= min(t0, t_last) - margin
    right = notes["start"] >= t1 + margin
    keep = keep_left & ~right
    if right.any():
        later = np.flatnonzero(right)
        keep[later[np.argmin(notes["start"][later])]] = True
    return notes[keep]


def _last_event_frame(notes: np.ndarray, config: WindowConfig) -> float:
    """The frame (fractional) of the notes' last event: a start, or a pitched note's end."""
    melodic_end = notes["end"][~notes["is_drum"]]
    last = max(float(notes["start"].max()), float(melodic_end.max()) if len(melodic_end) else 0.0)
    margin = 2.0 / config.codec.steps_per_second  # beyond any rounding to shift steps
    return (last + margin) * config.codec.sample_rate / config.hop_length


def window_tokens(notes: np.ndarray, start_frame: int, config: WindowConfig) -> np.ndarray:
    """Token ids of the window, zero-padded: int64 ``(codec.max_tokens,)``."""
    from specdiff.codec import pad_segments, tokenize_window

    kept = window_notes(notes, start_frame, config)
    if config.past_end and len(notes) and start_frame > _last_event_frame(notes, config):
        # The reference's tie state stops advancing at the file's last event, so a window that
        # starts after it would list the notes ending there as still sounding, over silence.
        # Windows past the end are ours (past_end): they get the true state, nothing sounds.
        kept = kept[:0]
    seq = notes_to_sequence(kept)
    ids = tokenize_window(seq, start_frame, config.num_frames, codec=config.codec,
                          program_map=config.program_map)
    return pad_segments([ids], config.codec.max_tokens)[0]


def sum_window(sources: list[np.ndarray], start: int, length: int,
               convert: Callable[[np.ndarray], np.ndarray] = np.asarray) -> np.ndarray:
    """Samples [start, start + length) of the sum of ``sources`` (each converted to float32 by
    ``convert``), zeros where a source has no samples: float32 ``(length,)``."""
    out = np.zeros(length, np.float32)
    for source in sources:
        lo, hi = max(start, 0), min(start + length, len(source))
        if hi > lo:
            out[lo - start: hi - start] += convert(source[lo:hi])
    return out


def slice_frames(mel: np.ndarray, start_frame: int, num_frames: int) -> np.ndarray:
    """Frames [start, start + num_frames) of a whole-recording scaled log-mel ``(T, M)`` as
    float32, silence (-1, the scaled log floor) outside the recording."""
    lo, hi = max(start_frame, 0), min(start_frame + num_frames, len(mel))
    if hi - lo == num_frames:
        return mel[lo:hi].astype(np.float32)
    out = np.full((num_frames, mel.shape[1]), -1.0, np.float32)
    if hi > lo:
        out[lo - start_frame: hi - start_frame] = mel[lo:hi]
    return out


def make_sample(read: AudioReader, notes: np.ndarray, start_frame: int,
                config: WindowConfig,
                read_mel: Callable[[int, int], np.ndarray] | None = None
                ) -> dict[str, torch.Tensor]:
    """One training sample (unbatched), in the contract of ``specdiff.training``.

    Returns a dict of tensors:
        ``tokens`` int64 (L,), L = codec.max_tokens, PAD = 0; ``start_frame`` int64 ().
        features "mel"/"both": ``target`` float32 (num_frames, 128), log-mel scaled to [-1, 1]
        (``specdiff.audio.scale_mel``); with ``context``: ``context`` (num_frames, 128) of the
        previous frames and ``context_mask`` bool (num_frames,), False for frames before the
        recording (their audio is silence).
        features "audio"/"both": ``audio`` float32 (num_samples,) and with ``context``
        ``context_audio`` (num_samples,) (the log-mel can then be computed on the GPU).

    ``read_mel(start_frame, num_frames) -> (num_frames, 128)`` takes the scaled log-mel from a
    whole-recording spectrogram (the cache's mel store) instead of computing it per window;
    the two differ only in each window's last frame, whose analysis window reaches 320 samples
    past the window end (zero-padded per window, real audio in the whole recording).
    """
    from specdiff.audio import log_mel, scale_mel

    n, f = config.num_samples, config.num_frames
    start = start_frame * config.hop_length
    sample = {"tokens": torch.from_numpy(window_tokens(notes, start_frame, config)),
              "start_frame": torch.tensor(start_frame, dtype=torch.int64)}
    need_audio = config.features in ("audio", "both") or read_mel is None
    audio = read(start, n) if need_audio else None
    context_audio = read(start - n, n) if need_audio and config.context else None
    if config.features in ("audio", "both"):
        sample["audio"] = torch.from_numpy(audio)
        if config.context:
            sample["context_audio"] = torch.from_numpy(context_audio)
    if config.features in ("mel", "both"):
        if read_mel is not None:  # already scaled
            mels = [torch.from_numpy(read_mel(start_frame, f))]
            if config.context:
                mels.append(torch.from_numpy(read_mel(start_frame - f, f)))
        else:
            batch = np.stack([audio, context_audio]) if config.context else audio[None]
            mels = scale_mel(log_mel(torch.from_numpy(batch)))  # (1 or 2, T, 128)
        sample["target"] = mels[0]
        if config.context:
            sample["context"] = mels[1]
            sample["context_mask"] = torch.from_numpy(start_frame - f + np.arange(f) >= 0)
    return sample
