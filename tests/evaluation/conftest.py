"""Shared fixtures: small MIDI files (tests/midi_files.py) rendered with FluidSynth."""

import shutil
import subprocess
from pathlib import Path

import midi_files
import numpy as np
import pytest
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def write_song(path: Path, seed: int, drums: bool = False, bars: int = 2) -> Path:
    """A 120 bpm two-part MIDI (piano eighths, strings quarters), optionally with a drum part."""
    rng = np.random.default_rng(seed)
    tick = 1 / midi_files.TICKS_PER_SECOND
    notes = [(0, 0, int(rng.integers(48, 72)), 90, i * 0.25, i * 0.25 + 220 * tick)
             for i in range(8 * bars)]
    notes += [(1, 48, int(rng.integers(62, 84)), 80, i * 0.5, i * 0.5 + 400 * tick)
              for i in range(4 * bars)]
    if drums:
        notes += [(9, 0, (36, 38, 42)[i % 3], 100, i * 0.25, i * 0.25 + 60 * tick)
                  for i in range(8 * bars)]
    return midi_files.write_midi(path, notes)


def render(midi: Path, wav: Path) -> np.ndarray:
    """Render with the FluidSynth CLI at 16 kHz (TimGM6mb); returns mono float32 audio."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        pytest.skip("needs Debian fluidsynth and timgm6mb-soundfont")
    subprocess.run(["fluidsynth", "-ni", "-q", "-r", "16000", "-F", str(wav), str(SOUNDFONT),
                    str(midi)], check=True, timeout=60, capture_output=True)  # fmt: skip
    audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    assert rate == 16000
    return audio.mean(axis=1)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """{stem: (midi path, wav path, mono audio)} for three short songs, one with drums."""
    root = tmp_path_factory.mktemp("rendered")
    songs = {}
    for seed, stem in enumerate(("song_a", "song_b", "song_c")):
        midi = write_song(root / f"{stem}.mid", seed, drums=stem == "song_c")
        wav = root / f"{stem}.wav"
        songs[stem] = (midi, wav, render(midi, wav))
    return songs


@pytest.fixture(scope="session")
def transcriber():
    from specdiff.evaluation import BasicPitchTranscriber

    return BasicPitchTranscriber()


@pytest.fixture(scope="session")
def vggish():
    """VGGish with fixed random weights (seed 0): framing and distances need no real weights."""
    import torch

    from specdiff.evaluation import VGGishEmbedder, build_vggish_network

    torch.manual_seed(0)
    return VGGishEmbedder(build_vggish_network(), identity="random-seed0")
