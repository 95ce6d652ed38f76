"""Griffin-Lim from the log-mel: round trip of a FluidSynth rendering, ISTFT exactness."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from midi_files import write_midi

from specdiff.audio import load_audio, log_mel, mel_matrix, stft, stft_magnitude
from specdiff.vocoders import (
    GriffinLim,
    fine_magnitudes,
    istft,
    mel_to_linear,
    refine_low_band,
    refine_phase,
)
from specdiff.vocoders.griffin_lim import decimate, interpolate

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


def test_decimate_and_interpolate_keep_the_low_band_and_drop_the_rest():
    t = torch.arange(16000 * 2, dtype=torch.float64) / 16000
    bass = torch.sin(2 * torch.pi * 55 * t) + 0.5 * torch.sin(2 * torch.pi * 330 * t)
    treble = torch.sin(2 * torch.pi * 600 * t) + torch.sin(2 * torch.pi * 3000 * t)
    low = decimate((bass + treble)[None].float())
    assert low.shape == (1, 2000)
    inner = slice(40, -40)  # away from the zero-padded ends
    torch.testing.assert_close(low[0, inner], bass[::16][inner].float(), atol=2e-3, rtol=0)
    back = interpolate(low, 32000)
    torch.testing.assert_close(back[0, 1000:-1000], bass[1000:-1000].float(), atol=2e-3, rtol=0)


def _bass_and_treble(seconds: float = 3.2) -> torch.Tensor:
    """A bass line (A1, C2, E2 with three harmonics each) under a steady 1.5 kHz tone."""
    t = torch.arange(round(16000 * seconds)) / 16000
    note = (t * 3 / seconds).long().clamp(max=2)  # three notes in turn
    f0 = torch.tensor([55.0, 65.4, 82.4])[note]
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / 16000
    bass = sum(torch.sin(k * phase) / k for k in (1, 2, 3))
    return (0.3 * bass + 0.1 * torch.sin(2 * torch.pi * 1500 * t))[None]


def test_refine_low_band_restores_the_bass_and_leaves_the_rest_alone():
    # The lowest 12 bins' phase scrambled in every hop-320 frame (a vocoder whose bass frames
    # disagree), everything else exact: the low band's steps bring the bass's log-mel back and
    # do not touch the spectrum above the band.
    clip = _bass_and_treble()
    mel = log_mel(clip)
    spec = stft(clip)
    noise = 6.3 * torch.rand(spec.shape, generator=torch.Generator().manual_seed(0))
    noise[..., 12:] = 0
    start = istft(spec * torch.polar(torch.ones_like(noise), noise))
    refined = refine_low_band(start, mel, n_iter=32)
    assert refined.shape == start.shape and torch.isfinite(refined).all()

    def error(audio):
        return float((log_mel(audio) - mel)[..., 2:-2, :16].abs().mean())  # bass mel bins

    assert error(refined) < 0.6 * error(start)
    assert error(refine_low_band(start, mel, n_iter=4)) > error(refined)  # steps count
    taper = torch.hann_window(start.shape[-1], periodic=False)  # no wrap-around step
    change = torch.fft.rfft((refined - start)[0] * taper).abs()
    above = torch.fft.rfftfreq(start.shape[-1], 1 / 16000) > 600
    assert change[above].max() < 1e-4 * torch.fft.rfft(start[0] * taper).abs().max()
    with pytest.raises(ValueError, match="multiples of 16"):
        refine_low_band(start, mel, hop=40)


def test_refine_low_band_reaches_as_far_as_the_vocoder_says():
    # A click at frame 100 of the input: each of the n_iter + 1 stft/istft pairs at 1 kHz
    # spreads it by one 40-sample window (2 frames) each way, the two 513-tap filters by under
    # a frame each, so nothing moves beyond 2 (n_iter + 1) + 2 frames (NeuralVocoder's
    # extra_context_frames); the steps do carry it several frames (measured: up to 6; above
    # 1e-5 of the click 3 frames away).
    clip = _bass_and_treble(4.0)  # 200 frames
    mel = log_mel(clip)
    clicked = clip.clone()
    clicked[0, 320 * 100] += 0.5
    change = (refine_low_band(clicked, mel, n_iter=4) - refine_low_band(clip, mel, n_iter=4))[0]
    frames = change.abs().reshape(200, 320).amax(1)
    reach = 2 * (4 + 1) + 2
    assert frames[: 100 - reach].max() == 0 and frames[100 + reach + 1 :].max() == 0
    assert min(frames[100 - 3], frames[100 + 3]) > 1e-5 * frames.max()


def test_low_bins_are_the_stft_bins_and_invert_with_the_others():
    from specdiff.vocoders.griffin_lim import _LowBins

    x = torch.randn(2, 1000, generator=torch.Generator().manual_seed(0))
    lowest = _LowBins(1000, 64, 5, 40, 12, x)
    spec = lowest.forward(x)  # (2, frames, 24): real parts, then imaginary
    reference = torch.stft(x, 64, 5, 40, torch.hann_window(40), center=True,
                           pad_mode="constant", return_complex=True)[:, :12].transpose(1, 2)
    assert spec.shape == (2, 201, 24)
    torch.testing.assert_close(torch.hypot(spec[..., :12], spec[..., 12:]), reference.abs(),
                               atol=1e-4, rtol=1e-4)
    # The inverse of the low bins plus the inverse of the others (torch.istft of the rest of
    # the spectrum) gives the signal back.
    rest = reference.new_zeros(2, 33, 201)
    full = torch.stft(x, 64, 5, 40, torch.hann_window(40), center=True, pad_mode="constant",
                      return_complex=True)
    rest[:, 12:] = full[:, 12:]
    others = torch.istft(rest, 64, 5, 40, torch.hann_window(40), center=True, length=1000)
    torch.testing.assert_close(lowest.inverse(spec) + others, x, atol=1e-4, rtol=1e-4)
