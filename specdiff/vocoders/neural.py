"""specdiff's own small neural vocoder: ConvNeXt over the log-mel, inverse-STFT head (Vocos-style).

The network maps the official 128-bin natural-log mel (50 frames/s) to one STFT frame per mel
frame (log-magnitude and phase), and ``torch.istft`` (hop 320, Hann window ``n_fft``, centred)
turns those frames into audio. Output frame k is centred on sample 320 k + 320, the centre of the
official front end's analysis window for mel frame k, so audio and mel stay aligned.

Phase comes in two kinds (``NeuralVocoderConfig.phase``):

* ``"frame"`` (Vocos): every frame's phase is predicted from the mel around it. A convolutional
  network maps a stationary stretch of mel to the same output at every frame, so a held note
  gets the same phase in every frame instead of one that advances with its frequency: the
  frames do not join up, and the note buzzes at the frame rate.
* ``"recurrent"``: the phase is carried from frame to frame. Per frame and bin the network
  predicts how far the phase advances (a rotation, relative to the bin's centre frequency), how
  much of the carried phase to keep and a fresh phase to mix in (an onset resets it):
  ``z_t = normalise(keep_t * advance_t * z_{t-1} + fresh_t)``. Held notes keep a phase that
  turns at their frequency; attacks start from a phase the network draws. The recurrence makes
  the receptive field unbounded to the left, so streaming carries its state
  (``NeuralVocoder.decode_stream``).

The network's audio then goes through ``refine_phase`` (``specdiff.vocoders.griffin_lim``): a few
fast Griffin-Lim steps on a 4x finer hop, starting from the network's own phase, towards the
mel's magnitudes (``NeuralVocoder(refine_iterations=...)``; 0 turns it off). The frames of
the network overlap only 2x; at 8x overlap they are made to agree on each partial's frequency,
which removes most of the semitone errors a transcriber hears in the network's audio. Last,
``refine_low_band`` takes many more such steps for the bins below ~190 Hz alone, on a copy
decimated to 1 kHz (``low_band_iterations``; 0 turns it off), where a bass note's pitch is
carried by its phase more than by the magnitudes.

Weights live in one safetensors file (float16 is fine) with the config in its metadata;
``load_neural_vocoder()`` with no path loads the shipped ``specdiff/assets/vocoder.safetensors``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from specdiff.audio.mel import HOP_LENGTH, N_MELS, SAMPLE_RATE
from specdiff.errors import SpecdiffError
from specdiff.vocoders.base import Vocoder
from specdiff.vocoders.griffin_lim import (
    FINE_HOP,
    fine_magnitudes,
    refine_low_band,
    refine_phase,
)

FORMAT = "specdiff-vocoder"
ASSET = Path(__file__).resolve().parent.parent / "assets" / "vocoder.safetensors"
# Fixed input normalisation: log-mel spans about [ln 1e-5, 4] = [-11.5, 4].
_MEL_CENTER, _MEL_SCALE = -4.0, 4.0


@dataclass(frozen=True)
class NeuralVocoderConfig:
    """Architecture of ``VocosNet``.

    Attributes:
        n_mels: input mel bins (official: 128).
        dim: ConvNeXt channels.
        intermediate: hidden width of each block's pointwise MLP.
        layers: ConvNeXt blocks.
        kernel_size: depthwise convolution width, in frames (odd).
        n_fft: FFT size and Hann window length of the inverse STFT.
        hop_length: samples per frame (official: 320).
        max_log_magnitude: predicted log-magnitudes are clamped here (exp(7) ~ 1100).
        magnitude_prior: predict log-magnitudes as a residual over the mel's energy spread back
            onto the linear bins (``mel_prior_matrix``), so training starts from roughly the
            right spectral envelope and spends its steps on detail and phase.
        phase: "frame" (a phase per frame) or "recurrent" (carried across frames); see the
            module docstring.
    """

    n_mels: int = N_MELS
    dim: int = 192
    intermediate: int = 576
    layers: int = 6
    kernel_size: int = 7
    n_fft: int = 1024
    hop_length: int = HOP_LENGTH
    max_log_magnitude: float = 7.0
    magnitude_prior: bool = True
    phase: str = "frame"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NeuralVocoderConfig:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown vocoder config keys {unknown}")
        return cls(**data)


def mel_prior_matrix(n_fft: int) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) map from mel magnitudes to a flat-within-band linear estimate.

    Each official mel band m sums linear bins with weights W[f, m]; a spectrum that is flat
    inside the band has density mel_m / sum_f W[f, m]. A linear bin takes the W-weighted mean of
    its bands' densities, scaled by the window-sum ratio of a Hann(n_fft) to the official
    Hann(640) analysis window. Bins outside every band (DC) get 0.
    """
    import numpy as np

    from specdiff.audio.mel import mel_matrix

    weights = mel_matrix().astype(np.float64)  # (513, M)
    density = weights / np.maximum(weights.sum(axis=0, keepdims=True), 1e-12)  # per band
    prior = density / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)  # (513, M)
    prior = prior * (n_fft / 640.0)
    # Resample the 513 official bins onto this FFT's bins (both span 0..8 kHz).
    grid = np.linspace(0.0, 1.0, n_fft // 2 + 1)
    source = np.linspace(0.0, 1.0, prior.shape[0])
    resampled = np.stack([np.interp(grid, source, prior[:, m]) for m in range(prior.shape[1])])
    return torch.tensor(resampled, dtype=torch.float32)  # (M, F)


PHASE_KINDS = ("frame", "recurrent")
# Griffin-Lim steps at hop 80 after the network, then on its lowest 12 bins at 1 kHz
# (chosen on 37 validation pieces: BENCHMARKS.md, "Mel inversion: magnitude or phase").
REFINE_ITERATIONS = 2
LOW_BAND_ITERATIONS = 64

TINY = NeuralVocoderConfig(dim=32, intermediate=64, layers=2, n_fft=640)


def shifted_sum(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Depthwise 'same' convolution along time in channels-last layout.

    Args:
        x: (B, T, C).
        weight: (C, K), K odd.

    Returns:
        (B, T, C): out[:, t] = sum_k weight[:, k] * x[:, t + k - K // 2], zero padded.
    """
    k = weight.shape[1]
    frames = x.shape[1]
    padded = nn.functional.pad(x, (0, 0, k // 2, k // 2))  # (B, T + K - 1, C)
    out = padded[:, :frames] * weight[:, 0]
    for i in range(1, k):  # K small fused multiply-adds beat a depthwise conv1d on the CPU
        out = out + padded[:, i : i + frames] * weight[:, i]
    return out


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> MLP, scaled residual. (B, T, C) -> (B, T, C)."""

    def __init__(self, dim: int, intermediate: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.dw_weight = nn.Parameter(torch.randn(dim, kernel_size) / kernel_size**0.5)
        self.dw_bias = nn.Parameter(torch.zeros(dim))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = shifted_sum(x, self.dw_weight) + self.dw_bias
        y = self.pwconv2(nn.functional.gelu(self.pwconv1(self.norm(y))))
        return x + self.gamma * y


class VocosNet(nn.Module):
    """Log-mel (B, T, n_mels) -> audio (B, T * hop_length); see the module docstring."""

    def __init__(self, config: NeuralVocoderConfig = NeuralVocoderConfig()):
        super().__init__()
        if config.kernel_size % 2 == 0 or config.n_fft < 2 * config.hop_length:
            raise ValueError("kernel_size must be odd and n_fft >= 2 * hop_length")
        if config.phase not in PHASE_KINDS:
            raise ValueError(f"phase must be one of {PHASE_KINDS}, got {config.phase!r}")
        self.config = config
        # A kernel_size-frame convolution, as a linear layer over stacked neighbouring frames.
        self.embed = nn.Linear(config.n_mels * config.kernel_size, config.dim)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(config.dim, config.intermediate, config.kernel_size,
                          1.0 / config.layers)
            for _ in range(config.layers)
        )
        self.final_norm = nn.LayerNorm(config.dim, eps=1e-6)
        bins = config.n_fft // 2 + 1
        # frame: log-magnitude, phase; recurrent: log-magnitude, keep, advance (2), fresh (2)
        self.head = nn.Linear(config.dim, bins * (2 if config.phase == "frame" else 6))
        if config.phase == "recurrent":
            with torch.no_grad():  # start by carrying the phase at each bin's centre frequency
                self.head.weight[bins:].mul_(0.1)
                self.head.bias[bins:].zero_()
                self.head.bias[bins : 2 * bins].fill_(2.0)  # keep ~0.88
            centre = 2 * math.pi * torch.arange(bins) * config.hop_length / config.n_fft
            self.register_buffer("centre_advance", torch.stack([centre.cos(), centre.sin()]),
                                 persistent=False)  # (2, F)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        if config.magnitude_prior:
            self.register_buffer("prior", mel_prior_matrix(config.n_fft), persistent=False)

    def spectrum(self, mel: torch.Tensor, carry_in: tuple[int, torch.Tensor] | None = None,
                 carry_out_at: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, n_mels) log-mel -> (B, n_fft // 2 + 1, T + 2) complex STFT frames.

        The mel is edge-padded by one frame on each side, so frame j is centred on sample
        320 j; frames 1..T belong to mel frames 0..T-1.

        Args:
            mel: the log-mel.
            carry_in: recurrent phase only: ``(j, z)``, the unit phase z (B, 2, F) carried
                into frame j from elsewhere (streaming: the previous chunk), in place of the
                one computed here. By default frame 0 starts from its fresh phase.
            carry_out_at: recurrent phase only: also return the phase after this frame.

        Returns:
            the frames, and the phase after frame ``carry_out_at`` (None when not asked for).
        """
        k = self.config.kernel_size
        x = (mel - _MEL_CENTER) / _MEL_SCALE  # (B, T, M)
        x = nn.functional.pad(x.transpose(1, 2), (1, 1), mode="replicate")  # (B, M, T + 2)
        x = nn.functional.pad(x, (k // 2, k // 2))  # (B, M, T + 1 + K)
        x = x.unfold(2, k, 1).permute(0, 2, 3, 1).flatten(2)  # (B, T + 2, K * M)
        x = self.norm(self.embed(x))  # (B, T + 2, C)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x)).float()  # (B, T + 2, bins * outputs)
        if self.config.phase == "frame":
            log_mag, phase = x.transpose(1, 2).chunk(2, dim=1)  # (B, F, T + 2) each
            carried = None
        else:
            log_mag, keep, advance, fresh = x.transpose(1, 2).split(
                [x.shape[-1] // 6, x.shape[-1] // 6, x.shape[-1] // 3, x.shape[-1] // 3], dim=1)
            phase, carried = self._carry_phase(keep, advance, fresh, carry_in, carry_out_at)
        if self.config.magnitude_prior:
            edged = nn.functional.pad(mel.transpose(1, 2), (1, 1), mode="replicate")  # (B, M, T+2)
            prior = (edged.transpose(1, 2).exp() @ self.prior).clamp_min(1e-5)  # (B, T + 2, F)
            log_mag = log_mag + prior.log().transpose(1, 2)
        magnitude = log_mag.clamp(max=self.config.max_log_magnitude).exp()
        if self.config.phase == "frame":
            return torch.polar(magnitude, phase), None
        return torch.complex(magnitude * phase[:, 0], magnitude * phase[:, 1]), carried

    def _carry_phase(self, keep: torch.Tensor, advance: torch.Tensor, fresh: torch.Tensor,
                     carry_in: tuple[int, torch.Tensor] | None, carry_out_at: int | None,
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The recurrent phase: (B, F, T) keep logits, (B, 2F, T) advances and fresh phases ->
        (B, 2, F, T) unit phases (cos, sin) and the phase after frame ``carry_out_at``."""
        batch, bins, frames = keep.shape
        keep = torch.sigmoid(keep)
        adv_re, adv_im = advance.view(batch, 2, bins, frames).unbind(1)
        adv_re = adv_re + 1.0  # the head starts near zero: no deviation from the bin centre
        norm = torch.rsqrt(adv_re**2 + adv_im**2 + 1e-8) * keep  # kept and normalised
        cos, sin = self.centre_advance[0, :, None], self.centre_advance[1, :, None]
        rot_re = (adv_re * cos - adv_im * sin) * norm  # (B, F, T): keep * rotation per frame
        rot_im = (adv_re * sin + adv_im * cos) * norm
        fresh_re, fresh_im = fresh.view(batch, 2, bins, frames).unbind(1)
        z_re = z_im = keep.new_zeros(batch, bins)
        out_re, out_im, carried = [], [], None
        for t in range(frames):  # a few small ops per frame: ~20 us, 1000x real time
            if carry_in is not None and t == carry_in[0]:
                z_re, z_im = carry_in[1][:, 0], carry_in[1][:, 1]
            w_re = rot_re[..., t] * z_re - rot_im[..., t] * z_im + fresh_re[..., t]
            w_im = rot_re[..., t] * z_im + rot_im[..., t] * z_re + fresh_im[..., t]
            scale = torch.rsqrt(w_re**2 + w_im**2 + 1e-12)
            z_re, z_im = w_re * scale, w_im * scale
            out_re.append(z_re)
            out_im.append(z_im)
            if t == carry_out_at:
                carried = torch.stack([z_re, z_im], dim=1)
        return torch.stack([torch.stack(out_re, -1), torch.stack(out_im, -1)], dim=1), carried

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.synthesize(mel)[0]

    def synthesize(self, mel: torch.Tensor, carry_in: tuple[int, torch.Tensor] | None = None,
                   carry_out_at: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``forward`` with the recurrent phase carried in and out (see ``spectrum``):
        (B, T * hop) audio and the phase after output frame ``carry_out_at``."""
        spec, carried = self.spectrum(mel, carry_in, carry_out_at)
        return self.istft(spec, mel.shape[1]), carried

    def istft(self, spec: torch.Tensor, frames: int) -> torch.Tensor:
        """``spectrum``'s (B, F, frames + 2) STFT frames -> (B, frames * hop) audio."""
        hop = self.config.hop_length
        audio = torch.istft(spec, self.config.n_fft, hop, self.config.n_fft,
                            self.window.float(), center=True, length=(frames + 1) * hop)
        return audio[:, : frames * hop]


class NeuralVocoder(Vocoder):
    """``Vocoder`` wrapper around a ``VocosNet`` (eval mode, no gradients).

    Args:
        net: the network (its config gives hop and mel bins).
        device: where it runs (default: CPU).
        refine_iterations: ``refine_phase`` steps on the network's audio (0: none).
        low_band_iterations: ``refine_low_band`` steps after that (0: none).
    """

    def __init__(self, net: VocosNet, device: torch.device | str | None = None,
                 refine_iterations: int = REFINE_ITERATIONS,
                 low_band_iterations: int = LOW_BAND_ITERATIONS):
        if refine_iterations < 0 or low_band_iterations < 0:
            raise ValueError("refine_iterations and low_band_iterations must be >= 0, got "
                             f"{refine_iterations} and {low_band_iterations}")
        self.net = net.eval()
        self.refine_iterations = refine_iterations
        self.low_band_iterations = low_band_iterations
        # Each stft/istft pair of a refinement spreads a sample's influence by one 640-sample
        # window (2 frames) each way; there are iterations + 1 pairs. The low band's
        # decimation and interpolation filters (513 taps) add under a frame each.
        self.extra_context_frames = (
            (2 * (refine_iterations + 1) if refine_iterations else 0)
            + (2 * (low_band_iterations + 1) + 2 if low_band_iterations else 0))
        self.carries_state = net.config.phase == "recurrent"
        self.hop_length = net.config.hop_length
        self.n_mels = net.config.n_mels
        self.sample_rate = SAMPLE_RATE
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.net.to(self.device)

    def to(self, device: torch.device | str) -> NeuralVocoder:
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

    @torch.inference_mode()
    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        mel_here = mel.to(self.device)
        return self._refine(self.net(mel_here), mel_here).to(mel.device)

    @torch.inference_mode()
    def decode_carrying(self, mel: torch.Tensor, carry_in: tuple[int, torch.Tensor] | None,
                        carry_out_at: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        mel_here = mel.to(self.device)
        audio, carried = self.net.synthesize(mel_here, carry_in, carry_out_at)
        return self._refine(audio, mel_here).to(mel.device), carried

    def _refine(self, audio: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        if not (self.refine_iterations or self.low_band_iterations):
            return audio
        magnitude = fine_magnitudes(mel, audio.shape[-1], FINE_HOP)  # both stages' targets
        if self.refine_iterations:
            audio = refine_phase(audio, mel, self.refine_iterations, magnitude=magnitude)
        if self.low_band_iterations:
            audio = refine_low_band(audio, mel, self.low_band_iterations, magnitude=magnitude)
        return audio

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.net.parameters())
        return (f"NeuralVocoder({params / 1e6:.2f}M params, refine_iterations="
                f"{self.refine_iterations}, low_band_iterations={self.low_band_iterations}, "
                f"{self.net.config})")


def save_neural_vocoder(net: VocosNet, path: str | os.PathLike,
                        dtype: torch.dtype = torch.float16,
                        metadata: dict[str, str] | None = None) -> Path:
    """Write ``net``'s weights as ``dtype`` safetensors with the config in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()}
    meta = {**(metadata or {}), "format": FORMAT, "config": net.config.to_json()}
    tmp = path.with_name(path.name + ".partial")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_neural_vocoder(path: str | os.PathLike) -> tuple[VocosNet, dict[str, str]]:
    """A float32 ``VocosNet`` and the file's metadata. Raises ``SpecdiffError`` on a bad file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise SpecdiffError(f"{path}: vocoder weights not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as error:  # safetensors raises several types
        raise SpecdiffError(f"{path}: not a safetensors file ({error})") from error
    if meta.get("format") != FORMAT or "config" not in meta:
        raise SpecdiffError(f"{path}: not a specdiff vocoder (expected metadata format={FORMAT})")
    try:
        net = VocosNet(NeuralVocoderConfig.from_json(meta["config"]))
        net.load_state_dict({k: v.float() for k, v in tensors.items()})
    except (ValueError, RuntimeError, TypeError) as error:
        raise SpecdiffError(f"{path}: vocoder weights do not match their config ({error})") \
            from error
    return net, meta


def load_neural_vocoder(path: str | os.PathLike | None = None,
                        device: torch.device | str | None = None,
                        refine_iterations: int = REFINE_ITERATIONS,
                        low_band_iterations: int = LOW_BAND_ITERATIONS) -> NeuralVocoder:
    """specdiff's vocoder from ``path`` (default: the shipped asset), ready to call, with
    ``refine_iterations`` Griffin-Lim steps at hop 80 after the network and
    ``low_band_iterations`` on its lowest bins (both 0: the network alone).

    Raises:
        SpecdiffError: missing or malformed file.
    """
    if path is None and not ASSET.is_file():
        raise SpecdiffError(f"{ASSET}: specdiff's vocoder weights are missing from this install")
    net, _ = read_neural_vocoder(ASSET if path is None else path)
    return NeuralVocoder(net, device, refine_iterations, low_band_iterations)
