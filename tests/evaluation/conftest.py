"""Shared fixtures: small MIDI files written with symusic and rendered with FluidSynth."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def write_midi(path: Path, seed: int, drums: bool = False, bars: int = 2) -> Path:
    """A 120 bpm two-part MIDI (piano eighths, strings quarters), optionally with a drum track."""
    import symusic

    rng = np.random.default_rng(seed)
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 120))
    piano, strings = symusic.Track(program=0), symusic.Track(program=48)
    for i in range(8 * bars):
        piano.notes.append(symusic.Note(i * 240, 220, int(rng.integers(48, 72)), 90))
    for i in range(4 * bars):
        strings.notes.append(symusic.Note(i * 480, 400, int(rng.integers(62, 84)), 80))
    score.tracks.extend([piano, strings])
    if drums:
        kit = symusic.Track(program=0, is_drum=True)
        for i in range(8 * bars):
            kit.notes.append(symusic.Note(i * 240, 60, (36, 38, 42)[i % 3], 100))
        score.tracks.append(kit)
    score.dump_midi(str(path))
    return path


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
        midi = write_midi(root / f"{stem}.mid", seed, drums=stem == "song_c")
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
