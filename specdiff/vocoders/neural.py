"""specdiff's own small neural vocoder: ConvNeXt over the log-mel, inverse-STFT head (Vocos-style).

The network maps the official 128-bin natural-log mel (50 frames/s) to one STFT frame per mel
frame (log-magnitude and phase), and ``torch.istft`` (hop 320, Hann window ``n_fft``, centred)
turns those frames into audio. Output frame k is centred on sample 320 k + 320, the centre of the
official front end's analysis window for mel frame k, so audio and mel stay aligned.

Weights live in one safetensors file (float16 is fine) with the config in its metadata;
``load_neural_vocoder()`` with no path loads the shipped ``specdiff/assets/vocoder.safetensors``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from specdiff.audio.mel import HOP_LENGTH, N_MELS, SAMPLE_RATE
from specdiff.errors import SpecdiffError
from specdiff.vocoders.base import Vocoder

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
        self.head = nn.Linear(config.dim, config.n_fft + 2)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        if config.magnitude_prior:
            self.register_buffer("prior", mel_prior_matrix(config.n_fft), persistent=False)

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) log-mel -> (B, n_fft // 2 + 1, T + 2) complex STFT frames.

        The mel is edge-padded by one frame on each side, so frame j is centred on sample
        320 j; frames 1..T belong to mel frames 0..T-1.
        """
        k = self.config.kernel_size
        x = (mel - _MEL_CENTER) / _MEL_SCALE  # (B, T, M)
        x = nn.functional.pad(x.transpose(1, 2), (1, 1), mode="replicate")  # (B, M, T + 2)
        x = nn.functional.pad(x, (k // 2, k // 2))  # (B, M, T + 1 + K)
        x = x.unfold(2, k, 1).permute(0, 2, 3, 1).flatten(2)  # (B, T + 2, K * M)
        x = self.norm(self.embed(x))  # (B, T + 2, C)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x))  # (B, T + 2, n_fft + 2)
        log_mag, phase = x.float().transpose(1, 2).chunk(2, dim=1)  # (B, F, T + 2) each
        if self.config.magnitude_prior:
            edged = nn.functional.pad(mel.transpose(1, 2), (1, 1), mode="replicate")  # (B, M, T+2)
            prior = (edged.transpose(1, 2).exp() @ self.prior).clamp_min(1e-5)  # (B, T + 2, F)
            log_mag = log_mag + prior.log().transpose(1, 2)
        magnitude = log_mag.clamp(max=self.config.max_log_magnitude).exp()
        return torch.polar(magnitude, phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        frames = mel.shape[1]
        spec = self.spectrum(mel)
        hop = self.config.hop_length
        audio = torch.istft(spec, self.config.n_fft, hop, self.config.n_fft,
                            self.window.float(), center=True, length=(frames + 1) * hop)
        return audio[:, : frames * hop]


class NeuralVocoder(Vocoder):
    """``Vocoder`` wrapper around a ``VocosNet`` (eval mode, no gradients).

    Args:
        net: the network (its config gives hop and mel bins).
        device: where it runs (default: CPU).
    """

    def __init__(self, net: VocosNet, device: torch.device | str | None = None):
        self.net = net.eval()
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
        return self.net(mel.to(self.device)).to(mel.device)

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.net.parameters())
        return f"NeuralVocoder({params / 1e6:.2f}M params, {self.net.config})"


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
                        device: torch.device | str | None = None) -> NeuralVocoder:
    """specdiff's vocoder from ``path`` (default: the shipped asset), ready to call.

    Raises:
        SpecdiffError: missing or malformed file.
    """
    if path is None and not ASSET.is_file():
        raise SpecdiffError(f"{ASSET}: specdiff's vocoder weights are missing from this install")
    net, _ = read_neural_vocoder(ASSET if path is None else path)
    return NeuralVocoder(net, device)
