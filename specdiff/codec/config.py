"""The codecs as data: event ranges, special ids, vocabulary sizes, and the Slakh program map."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

# Event types in vocabulary order (shift is always first and starts at raw index 0).
EVENT_TYPES = ("shift", "pitch", "velocity", "tie", "program", "drum")

# Official `_SLAKH_CLASS_PROGRAMS` values: the targets of the inference-time program map.
SLAKH_CLASS_PROGRAMS = (0, 4, 8, 16, 24, 26, 29, 32, 33, 40, 41, 42, 43, 46, 47, 48, 50, 52,
                        55, 56, 57, 58, 60, 61, 64, 66, 67, 68, 69, 70, 71, 73, 80, 88)
# program -> largest Slakh class program <= program, for every GM program 0..127.
SLAKH_PROGRAM_MAP = np.array([max(c for c in SLAKH_CLASS_PROGRAMS if c <= p) for p in range(128)],
                             dtype=np.int64)


def slakh_program(program: int) -> int:
    """GM program 0..127 -> its Slakh class program (the largest class program <= it)."""
    return int(SLAKH_PROGRAM_MAP[program])


@dataclass(frozen=True)
class CodecConfig:
    """An event vocabulary and its segmenting rules.

    Raw event index ranges follow ``EVENT_TYPES``: shift 0..max_shift_steps, pitch 0..127,
    velocity 0..num_velocity_bins (0 = note-off), tie, program 0..127, drum 0..127. A token id is
    ``raw + num_special``.

    Attributes:
        name: "official" (MT3 / diffusers) or "port-901" (the unofficial PyTorch port).
        style: which tokenization rules apply ("mt3" or "port").
        steps_per_second: shift resolution (100 = 10 ms steps).
        max_shift_steps: largest shift value.
        num_velocity_bins: 1 (velocity discarded) or up to 127.
        num_special: 3 (PAD 0, EOS 1, UNK 2) or 0 (the port has none).
        extra_ids: T5 extra ids counted in the vocabulary size (100 officially).
        embedding_multiple: embedding rows are rounded up to a multiple of this (1 = none).
        segment_frames: frames per segment (256 frames of 20 ms = 5.12 s).
        sample_rate, hop_length: the audio frame grid (16 kHz, hop 320: 50 frames/s); frame f
            starts at shift step ``f * steps_per_frame``.
        max_tokens: ids per segment, EOS included (official 2048; the port's position table 3000).
    """

    name: str = "official"
    style: Literal["mt3", "port"] = "mt3"
    steps_per_second: int = 100
    max_shift_steps: int = 1000
    num_velocity_bins: int = 1
    num_special: int = 3
    extra_ids: int = 100
    embedding_multiple: int = 128
    segment_frames: int = 256
    sample_rate: int = 16000
    hop_length: int = 320
    max_tokens: int = 2048

    def __post_init__(self) -> None:
        if not 1 <= self.num_velocity_bins <= 127:
            raise ValueError(f"num_velocity_bins must be in 1..127, got {self.num_velocity_bins}")
        if self.sample_rate % self.hop_length or self.steps_per_second % self.frames_per_second:
            raise ValueError("the frame rate must divide steps_per_second")

    # --- layout ---------------------------------------------------------------------------
    @property
    def event_sizes(self) -> dict[str, int]:
        """Number of values of each event type, in vocabulary order."""
        return {"shift": self.max_shift_steps + 1, "pitch": 128,
                "velocity": self.num_velocity_bins + 1, "tie": 1, "program": 128, "drum": 128}

    @property
    def offsets(self) -> dict[str, int]:
        """First raw index of each event type."""
        out, start = {}, 0
        for kind, size in self.event_sizes.items():
            out[kind] = start
            start += size
        return out

    def token(self, kind: str, value: int = 0) -> int:
        """Token id (raw index + num_special) of one event."""
        if not 0 <= value < self.event_sizes[kind]:
            raise ValueError(f"{kind} value {value} out of range 0..{self.event_sizes[kind] - 1}")
        return self.offsets[kind] + value + self.num_special

    @property
    def num_classes(self) -> int:
        """Number of regular (event) tokens: 1388 official, 901 port."""
        return sum(self.event_sizes.values())

    @property
    def vocab_size(self) -> int:
        """Specials + events + extra ids: 1491 official (vb=1), 901 port."""
        return self.num_special + self.num_classes + self.extra_ids

    @property
    def num_embeddings(self) -> int:
        """Embedding rows: vocab_size rounded up to ``embedding_multiple`` (1536 official)."""
        m = self.embedding_multiple
        return m * math.ceil(self.vocab_size / m)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int | None:
        """1 officially; None for the port (no special tokens)."""
        return 1 if self.num_special else None

    @property
    def frames_per_second(self) -> int:
        return self.sample_rate // self.hop_length

    @property
    def steps_per_frame(self) -> int:
        return self.steps_per_second // self.frames_per_second

    @property
    def segment_steps(self) -> int:
        """Shift steps per segment (512)."""
        return self.segment_frames * self.steps_per_frame

    @property
    def segment_seconds(self) -> float:
        return self.segment_frames / self.frames_per_second

    def velocity_bin(self, velocity: np.ndarray | int) -> np.ndarray:
        """MIDI velocity -> bin: 0 if 0 else ceil(bins * v / 127)."""
        v = np.asarray(velocity, dtype=np.int64)
        return np.where(v == 0, 0, -((-self.num_velocity_bins * v) // 127))

    def bin_velocity(self, vbin: np.ndarray | int) -> np.ndarray:
        """Bin -> MIDI velocity: 0 if 0 else int(127 * b / bins)."""
        b = np.asarray(vbin, dtype=np.int64)
        return (127 * b) // self.num_velocity_bins


OFFICIAL_CODEC = CodecConfig()
"""The official checkpoints' codec (diffusers ``MidiProcessor``): 1388 events, 1536 rows."""

OFFICIAL_CODEC_VB127 = CodecConfig(name="official-vb127", num_velocity_bins=127)
"""The piano-only ``ismir2021`` variant with 127 velocity bins (1664 rows)."""

PORT_CODEC = CodecConfig(name="port-901", style="port", max_shift_steps=513, num_special=0,
                         extra_ids=0, embedding_multiple=1, max_tokens=3000)
"""The unofficial PyTorch port's ``Codec(513)``: 901 tokens, no PAD/EOS, raw programs."""
