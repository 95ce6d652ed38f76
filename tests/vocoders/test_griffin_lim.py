"""Griffin-Lim from the log-mel: round trip of a FluidSynth rendering, ISTFT exactness."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from midi_files import write_midi

from specdiff.audio import load_audio, log_mel, mel_matrix, stft, stft_magnitude
from specdiff.vocoders import GriffinLim, fine_magnitudes, istft, mel_to_linear, refine_phase

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

# (channel, program, pitch, velocity, start s, end s) at 120 bpm: piano, viola, drums.
NOTES = [
    (0, 0, 60, 100, 0.0, 0.5), (0, 0, 64, 90, 0.5, 1.0), (0, 0, 67, 90, 1.0, 1.75),
    (1, 41, 72, 80, 0.25, 1.5), (1, 41, 76, 80, 1.5, 2.0),
    (9, 0, 36, 110, 0.0, 0.1), (9, 0, 38, 100, 0.5, 0.6), (9, 0, 42, 90, 1.0, 1.05),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> torch.Tensor:
    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        pytest.skip("needs Debian fluidsynth and timgm6mb-soundfont (installed by .ci/run)")
    folder = tmp_path_factory.mktemp("render")
    write_midi(folder / "in.mid", NOTES)
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-r", "16000", "-F", str(folder / "out.wav"), str(SOUNDFONT),
         str(folder / "in.mid")],
        check=True, timeout=60, capture_output=True,
    )
    audio = torch.from_numpy(load_audio(folder / "out.wav"))
    assert audio.numel() > 2 * 16000 and audio.abs().max() > 0.01  # ~2 s of real sound
    return audio


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """||reference - estimate||_F / ||reference||_F."""
    return float(torch.linalg.norm(reference - estimate) / torch.linalg.norm(reference))


def test_round_trip_of_a_rendered_file(rendered):
    # Spectral convergence of the mel magnitudes (exp of the log-mel): bound 0.1 at the default
    # 48 fast-GL iterations (measured ~0.04); of the full linear STFT magnitudes, which the mel
    # bottleneck cannot pin down exactly: bound 0.25 (measured ~0.13).
    mel = log_mel(rendered)[None]  # (1, T, 128)
    audio = GriffinLim()(mel)
    assert audio.shape == (1, mel.shape[1] * 320) and torch.isfinite(audio).all()
    again = log_mel(audio)
    assert spectral_convergence(mel.exp(), again.exp()) < 0.1
    assert float((mel - again).abs().mean()) < 0.3  # mean |log-mel error| in nats
    truth = stft_magnitude(rendered[None, : audio.shape[1]])
    assert spectral_convergence(truth, stft_magnitude(audio)) < 0.25
    # Without iterations (random phase) it is far worse: the iterations do the work.
    noisy = log_mel(GriffinLim(n_iter=0)(mel))
    assert spectral_convergence(mel.exp(), noisy.exp()) > 0.3


def test_deterministic_and_batched(rendered):
    mel = log_mel(rendered[: 16000])  # (T, 128)
    batch = torch.stack([mel, mel.flip(0)])
    vocoder = GriffinLim(n_iter=8)
    out = vocoder(batch)
    torch.testing.assert_close(out, vocoder(batch), rtol=0, atol=0)
    torch.testing.assert_close(out[0], vocoder(mel), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out[1], vocoder(mel.flip(0)), rtol=1e-4, atol=1e-5)  # any row


def test_mel_to_linear_fits_the_mel():
    magnitude = torch.rand(2, 10, 513, generator=torch.Generator().manual_seed(0))
    matrix = torch.tensor(mel_matrix())
    mel = (magnitude @ matrix).clamp_min(1e-5).log()
    linear = mel_to_linear(mel, n_iter=64)
    assert (linear >= 0).all()
    assert spectral_convergence(mel.exp(), linear @ matrix) < 0.02


def test_istft_inverts_stft():
    gen = torch.Generator().manual_seed(1)
    audio = torch.randn(2, 320 * 20, generator=gen, dtype=torch.float64)
    back = istft(stft(audio))
    assert back.shape == audio.shape
    # exact except at the very first samples, where the analysis window is ~0
    torch.testing.assert_close(back[:, 64:], audio[:, 64:], rtol=0, atol=1e-9)


def test_fine_magnitudes_sit_on_the_mel_frames_and_interpolate_between():
    mel = torch.randn(2, 6, 128, generator=torch.Generator().manual_seed(2)) - 4.0
    linear = mel_to_linear(mel, n_iter=8)  # (B, T, F)
    fine = fine_magnitudes(mel, 6 * 320, 80)  # (B, F, 6 * 4 + 1)
    assert fine.shape == (2, 513, 25)
    # Mel frame j is centred on sample 320 j + 320, which is hop-80 frame 4 j + 4.
    for j in range(5):
        torch.testing.assert_close(fine[:, :, 4 * j + 4], linear[:, j])
    torch.testing.assert_close(fine[:, :, 6], (linear[:, 0] + linear[:, 1]) / 2)
    torch.testing.assert_close(fine[:, :, 0], linear[:, 0])  # held before the first centre


def test_refine_phase_makes_the_frames_consistent_with_the_mel(rendered):
    # Start from the right magnitudes with a phase scrambled in every hop-320 frame, as a
    # vocoder whose frames disagree: a few steps at hop 80 bring the log-mel back.
    clip = rendered[None, : 320 * 150]
    mel = log_mel(clip)
    spec = stft(clip)
    scrambled = torch.polar(spec.abs(), 6.3 * torch.rand(spec.shape,
                                                         generator=torch.Generator().manual_seed(0)))
    start = istft(scrambled)
    refined = refine_phase(start, mel, n_iter=4)
    assert refined.shape == start.shape and torch.isfinite(refined).all()

    def error(audio):
        return float((log_mel(audio) - mel).abs().mean())

    assert error(refined) < 0.7 * error(start)
    assert error(refine_phase(start, mel, n_iter=8)) < error(refined)
    # Each row is refined on its own.
    both = refine_phase(torch.cat([start, start.flip(-1)]), torch.cat([mel, mel]), n_iter=2)
    torch.testing.assert_close(both[:1], refine_phase(start, mel, n_iter=2), rtol=1e-4, atol=1e-5)
