"""specdiff's neural vocoder: shape contract, determinism, file round trip, the shipped weights."""

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.audio import log_mel
from specdiff.errors import SpecdiffError
from specdiff.vocoders import load_vocoder
from specdiff.vocoders.neural import (
    ASSET,
    TINY,
    NeuralVocoder,
    NeuralVocoderConfig,
    VocosNet,
    save_neural_vocoder,
    shifted_sum,
)

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
# mma bossa nova with drums: an envelope with real dynamics (a chorale is nearly flat).
GROOVE = Path(__file__).parents[1] / "fixtures" / "codec" / "midi" / "mma_bossanova.mid"


def tiny_net(seed: int = 0) -> VocosNet:
    torch.manual_seed(seed)
    return VocosNet(TINY)


def test_shape_contract():
    vocoder = NeuralVocoder(tiny_net())
    mel = torch.randn(3, 17, 128) - 5.0
    assert vocoder(mel).shape == (3, 17 * 320)
    assert vocoder(mel[0].numpy()).shape == (17 * 320,)
    assert vocoder(mel[:, :0]).shape == (3, 0)
    assert vocoder(mel[:, :1]).shape == (3, 320)
    with pytest.raises(ValueError):
        vocoder(torch.zeros(1, 4, 64))


def test_deterministic_and_batch_independent():
    mel = torch.randn(2, 23, 128) - 5.0
    a = NeuralVocoder(tiny_net(1))(mel)
    b = NeuralVocoder(tiny_net(1))(mel)
    assert torch.equal(a, b)
    alone = NeuralVocoder(tiny_net(1))(mel[1:])
    torch.testing.assert_close(alone[0], a[1], atol=1e-5, rtol=1e-4)
    assert torch.isfinite(a).all()


def test_shifted_sum_is_a_depthwise_convolution():
    x = torch.randn(2, 11, 5)
    weight = torch.randn(5, 7)
    expected = torch.nn.functional.conv1d(x.transpose(1, 2), weight[:, None], padding=3,
                                          groups=5).transpose(1, 2)
    torch.testing.assert_close(shifted_sum(x, weight), expected, atol=1e-5, rtol=1e-5)


def test_receptive_field_is_local():
    """Changing mel frames far from a region leaves that region's audio unchanged."""
    net = tiny_net().eval()
    mel = torch.randn(1, 60, 128) - 5.0
    changed = mel.clone()
    changed[:, 45:] += 3.0
    with torch.no_grad():
        a, b = net(mel), net(changed)
    # 2 blocks + embedding, kernel 7: 9 frames of context, plus the 640-sample window.
    assert torch.equal(a[:, : 30 * 320], b[:, : 30 * 320])
    assert not torch.equal(a, b)


def test_round_trip_through_the_registry(tmp_path):
    net = tiny_net(2)
    mel = torch.randn(1, 12, 128) - 5.0
    expected = NeuralVocoder(net)(mel)
    exact = save_neural_vocoder(net, tmp_path / "v32.safetensors", dtype=torch.float32)
    torch.testing.assert_close(load_vocoder(exact)(mel), expected)
    half = save_neural_vocoder(net, tmp_path / "v16.safetensors")
    loaded = load_vocoder(str(half))
    assert isinstance(loaded, NeuralVocoder) and loaded.net.config == TINY
    torch.testing.assert_close(loaded(mel), expected, atol=2e-2, rtol=0.05)
    assert half.stat().st_size < exact.stat().st_size


def test_bad_files(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(other))
    with pytest.raises(SpecdiffError, match="other.safetensors: not a specdiff vocoder"):
        load_vocoder(other)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    with pytest.raises(SpecdiffError, match="broken.safetensors: not a safetensors file"):
        load_vocoder(broken)
    mismatch = tmp_path / "mismatch.safetensors"
    net = tiny_net()
    save_neural_vocoder(net, mismatch)
    from safetensors import safe_open

    with safe_open(str(mismatch), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    save_file(tensors, str(mismatch), metadata={
        "format": "specdiff-vocoder", "config": NeuralVocoderConfig(dim=48).to_json()})
    with pytest.raises(SpecdiffError, match="do not match their config"):
        load_vocoder(mismatch)


def test_shipped_vocoder_loads_by_name():
    if not ASSET.is_file():
        with pytest.raises(SpecdiffError, match="vocoder weights are missing"):
            load_vocoder("specdiff")
        return
    vocoder = load_vocoder("specdiff")
    assert isinstance(vocoder, NeuralVocoder)
    params = sum(p.numel() for p in vocoder.net.parameters())
    assert 2e5 < params < 3e6
    assert ASSET.stat().st_size < 8 * 2**20


@pytest.fixture(scope="module")
def rendered_groove(tmp_path_factory):
    if shutil.which("fluidsynth") is None or not TIMGM.is_file():
        pytest.skip("needs fluidsynth and the TimGM6mb SoundFont")
    from specdiff.data.render import RenderConfig, render_file

    out = tmp_path_factory.mktemp("render")
    entry = render_file(GROOVE, "groove", out, RenderConfig(soundfont=str(TIMGM)))
    import soundfile as sf

    audio, rate = sf.read(str(out / entry["audio"]), dtype="float32")
    assert rate == 16000
    return audio[16000 : 9 * 16000]  # 8 s inside the piece, no silent tail


def _envelope(audio: np.ndarray, hop: int = 800) -> np.ndarray:
    """Log RMS per 50 ms."""
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    return np.log(np.sqrt((frames**2).mean(axis=1)) + 1e-4)


@pytest.mark.skipif(not ASSET.is_file(), reason="the vocoder asset is not trained yet")
def test_shipped_vocoder_tracks_a_rendered_file(rendered_groove):
    mel = log_mel(rendered_groove)  # (T, 128)
    audio = load_vocoder("specdiff")(mel).numpy()
    assert audio.shape == (mel.shape[0] * 320,)
    assert np.isfinite(audio).all() and np.abs(audio).max() < 4.0
    ours, original = _envelope(audio), _envelope(rendered_groove)
    # The envelope moves: shifted by 250 ms it no longer matches itself.
    assert np.corrcoef(original[:-5], original[5:])[0, 1] < 0.5
    assert np.corrcoef(ours, original)[0, 1] > 0.95
    assert np.abs(ours - original).mean() < 0.3  # within ~35 % of the level, on average


def test_streaming_equals_whole_file():
    """The receptive field (+-21 frames plus the window) fits inside the streamed context."""
    from specdiff.vocoders import vocode_stream

    torch.manual_seed(0)
    # The low band's wide context (132 frames) would make one chunk of this short mel.
    vocoder = NeuralVocoder(VocosNet(NeuralVocoderConfig(layers=6, dim=32, intermediate=64)),
                            low_band_iterations=0)
    mel = torch.randn(90, 128) - 5.0
    whole = vocoder(mel)
    pieces = torch.cat(list(vocode_stream(vocoder, [mel[:25], mel[25:70], mel[70:]],
                                          chunk_frames=20, context_frames=24)))
    assert pieces.shape == whole.shape
    torch.testing.assert_close(pieces, whole, atol=1e-8, rtol=0.0)  # 8 frames: ~1e-6 off


def _held_note_net(phase: str) -> VocosNet:
    """A TINY net whose head ignores the mel: magnitudes from the prior, a phase that is kept
    from frame to frame (recurrent) or fixed (frame)."""
    net = VocosNet(replace(TINY, phase=phase)).eval()
    bins = TINY.n_fft // 2 + 1
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        if phase == "recurrent":
            net.head.bias[bins : 2 * bins] = 30.0  # keep everything
            net.head.bias[4 * bins : 5 * bins] = 1e-3  # a tiny fresh phase, 0 rad
    return net


def test_a_recurrent_phase_turns_on_a_held_note_and_a_frame_phase_does_not():
    """The point of the recurrent phase: a stationary mel gets phases that advance at each
    bin's frequency, so overlapping frames add up instead of cancelling."""
    mel = torch.full((1, 40, 128), -3.0)  # the same frame forty times
    centre = 2 * np.pi * np.arange(TINY.n_fft // 2 + 1) * 320 / TINY.n_fft
    with torch.no_grad():
        recurrent = _held_note_net("recurrent").spectrum(mel)[0][0]  # (F, T + 2)
        frame = _held_note_net("frame").spectrum(mel)[0][0]
    step = torch.angle(recurrent[:, 1:] * recurrent[:, :-1].conj()).numpy()  # (F, T + 1)
    wrapped = np.angle(np.exp(1j * (step - centre[:, None])))
    assert np.abs(wrapped).max() < 1e-3
    assert torch.angle(frame).abs().max() < 1e-6  # phase 0 in every frame


def test_recurrent_streaming_carries_the_phase_and_equals_the_whole_file():
    from specdiff.vocoders import vocode_stream

    torch.manual_seed(0)
    config = NeuralVocoderConfig(layers=6, dim=32, intermediate=64, phase="recurrent")
    vocoder = NeuralVocoder(VocosNet(config), low_band_iterations=0)  # see above
    assert vocoder.carries_state
    mel = torch.randn(130, 128) - 5.0
    whole = vocoder(mel)
    pieces = torch.cat(list(vocode_stream(vocoder, [mel[:25], mel[25:70], mel[70:]],
                                          chunk_frames=20, context_frames=32)))
    assert pieces.shape == whole.shape
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=0.0)
    # Without the carried phase the chunks' held phases would disagree at every boundary.
    vocoder.carries_state = False
    cut = torch.cat(list(vocode_stream(vocoder, [mel], chunk_frames=20, context_frames=32)))
    assert (cut - whole).abs().max() > 1e-3


def test_phase_refinement_follows_the_network_and_widens_the_stream_context():
    from specdiff.vocoders import refine_phase, vocode_stream

    torch.manual_seed(0)
    # Two blocks: a receptive field of +-9 frames, so a 14-frame context leaves the state
    # entering each chunk (at frame 10 of it) only 2 frames before the chunk's core.
    net = VocosNet(NeuralVocoderConfig(layers=2, dim=32, intermediate=64, phase="recurrent"))
    mel = torch.randn(130, 128)  # loud: the refinement takes the mel's magnitudes (peak ~0.2)
    raw = NeuralVocoder(net, refine_iterations=0, low_band_iterations=0)
    assert raw.extra_context_frames == 0
    with torch.no_grad():
        torch.testing.assert_close(raw(mel), net(mel[None])[0])
        refined = NeuralVocoder(net, refine_iterations=2, low_band_iterations=0)
        torch.testing.assert_close(refined(mel), refine_phase(net(mel[None]), mel[None], 2)[0])
    assert refined.extra_context_frames == 6
    with pytest.raises(ValueError, match="refine_iterations"):
        NeuralVocoder(net, refine_iterations=-1)
    # The refinement reaches up to 6 frames further: streaming without those frames lets the
    # frames before the carried state (computed afresh in each chunk) leak into the cores.
    whole = refined(mel)
    pieces = [mel[:25], mel[25:70], mel[70:]]
    streamed = torch.cat(list(vocode_stream(refined, pieces, chunk_frames=20, context_frames=14)))
    torch.testing.assert_close(streamed, whole, atol=1e-7, rtol=0.0)  # measured 1.5e-8
    refined.extra_context_frames = 0
    leaky = torch.cat(list(vocode_stream(refined, pieces, chunk_frames=20, context_frames=14)))
    assert (leaky - whole).abs().max() > 1e-6  # measured 6.5e-6: the Hann tails are small


def test_low_band_refinement_comes_last_and_widens_the_stream_context():
    from specdiff.vocoders import refine_low_band, refine_phase, vocode_stream

    torch.manual_seed(0)
    net = VocosNet(NeuralVocoderConfig(layers=2, dim=32, intermediate=64, phase="recurrent"))
    t = torch.arange(200 * 320) / 16000  # a bass line: the low band has work to do
    f0 = torch.tensor([55.0, 73.4, 61.7, 82.4])[(t / 1.0).long() % 4]
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / 16000
    mel = log_mel(sum(0.2 * torch.sin(k * phase) / k for k in (1, 2, 3, 4)))
    vocoder = NeuralVocoder(net, refine_iterations=2, low_band_iterations=4)
    assert vocoder.extra_context_frames == 6 + 2 * 5 + 2
    assert "low_band_iterations=4" in repr(vocoder)
    with torch.no_grad():
        expected = refine_low_band(refine_phase(net(mel[None]), mel[None], 2), mel[None], 4)[0]
    torch.testing.assert_close(vocoder(mel), expected)
    with pytest.raises(ValueError, match="low_band_iterations"):
        NeuralVocoder(net, low_band_iterations=-1)
    whole = vocoder(mel)
    pieces = [mel[:25], mel[25:120], mel[120:]]
    streamed = torch.cat(list(vocode_stream(vocoder, pieces, chunk_frames=30, context_frames=14)))
    torch.testing.assert_close(streamed, whole, atol=1e-6, rtol=0.0)  # rounding: ~2e-7
