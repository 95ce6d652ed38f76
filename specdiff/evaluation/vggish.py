"""VGGish embeddings in PyTorch: ``torchvggish``'s architecture and input framing, local weights.

The TF-Hub model the paper used returns the raw 128-d ``fc2`` output (no ReLU, no PCA); the
``torchvggish`` port ends with a ReLU, which is dropped here so the outputs match the TF model.
The weights are a local state-dict file: given by path, by $SPECDIFF_VGGISH_WEIGHTS, or
downloaded once into the user cache by `download_vggish_weights` (checksum-verified); nothing is
downloaded unless asked.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from specdiff.errors import SpecdiffError

VGGISH_WEIGHTS_ENV = "SPECDIFF_VGGISH_WEIGHTS"
VGGISH_WEIGHTS_URL = (
    "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
)
SAMPLE_RATE = 16000
STFT_WINDOW = 400  # 0.025 s
STFT_HOP = 160  # 0.010 s
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames per embedding
EXAMPLE_HOP_FRAMES = 96  # non-overlapping
EMBEDDING_DIM = 128
WINDOW_SECONDS = EXAMPLE_FRAMES * STFT_HOP / SAMPLE_RATE  # 0.96
HOP_SECONDS = EXAMPLE_HOP_FRAMES * STFT_HOP / SAMPLE_RATE  # 0.96


def vggish_num_frames(num_samples: int) -> int:
    """Number of VGGish embeddings for ``num_samples`` of 16 kHz audio (no padding inside).

    Log-mel frames: 1 + (n - 400) // 160; examples: 1 + (frames - 96) // 96; 0 when too short.
    """
    if num_samples < STFT_WINDOW:
        return 0
    frames = 1 + (num_samples - STFT_WINDOW) // STFT_HOP
    return max(0, 1 + (frames - EXAMPLE_FRAMES) // EXAMPLE_HOP_FRAMES)


def vggish_frame_times(num_samples: int) -> np.ndarray:
    """(T, 2) start and end time in seconds of each embedding's 0.96 s window."""
    starts = np.arange(vggish_num_frames(num_samples)) * HOP_SECONDS
    return np.stack([starts, starts + WINDOW_SECONDS], axis=-1)


def build_vggish_network() -> nn.Module:
    """The VGGish network (random init) from ``torchvggish``, with the final ReLU removed.

    Input (N, 1, 96, 64) log-mel patches -> (N, 128). State-dict keys match the port's weights.
    """
    try:
        from torchvggish.torchvggish import VGG, make_layers
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SpecdiffError(
            "VGGish needs the 'torchvggish' package: pip install 'specdiff[eval]'"
        ) from error
    net = VGG(make_layers(), postprocess=False)
    net.embeddings[-1] = nn.Identity()  # TF-Hub VGGish: fc2 has no activation
    return net.eval()


def cache_dir() -> Path:
    """Where downloaded weights are kept: $XDG_CACHE_HOME/specdiff (default ~/.cache/specdiff)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "specdiff"


def download_vggish_weights(url: str = VGGISH_WEIGHTS_URL, sha256_prefix: str | None = None,
                            directory: str | os.PathLike | None = None) -> Path:
    """The weights file at ``url``, downloaded once into ``directory`` (default `cache_dir`).

    The SHA-256 of the download must start with ``sha256_prefix`` (default: the hex digits after
    the last '-' of the file name, torch.hub's convention: ``vggish-10086976.pth``). A download
    that fails or does not match leaves nothing behind.

    Raises:
        SpecdiffError: no network, a bad URL, or a checksum mismatch.
    """
    import urllib.request
    from urllib.parse import urlparse

    name = Path(urlparse(url).path).name
    if sha256_prefix is None:
        sha256_prefix = name.rsplit("-", 1)[-1].split(".")[0]
    target = Path(directory or cache_dir()) / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(name + ".partial")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except (OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise SpecdiffError(f"cannot download the VGGish weights from {url} ({error}); without "
                            "network, download the file elsewhere and pass its path with "
                            f"--vggish-weights or ${VGGISH_WEIGHTS_ENV}") from None
    if not digest.hexdigest().startswith(sha256_prefix):
        partial.unlink(missing_ok=True)
        raise SpecdiffError(f"{url}: the download's SHA-256 {digest.hexdigest()[:16]}... does not "
                            f"start with {sha256_prefix}; nothing was kept")
    partial.replace(target)
    return target


def resolve_vggish_weights(path: str | os.PathLike | None = None, download: bool = False
                           ) -> Path:
    """The weights file: ``path``, $SPECDIFF_VGGISH_WEIGHTS, or the user cache (downloading it
    there first when ``download``); a SpecdiffError if none is found."""
    chosen = path or os.environ.get(VGGISH_WEIGHTS_ENV)
    how = (
        f"pass --download-vggish to fetch them once from {VGGISH_WEIGHTS_URL} into "
        f"{cache_dir()}, or give a local copy with --vggish-weights or ${VGGISH_WEIGHTS_ENV}"
    )
    if not chosen:
        cached = cache_dir() / Path(VGGISH_WEIGHTS_URL).name
        if cached.is_file():
            return cached
        if download:
            return download_vggish_weights()
        raise SpecdiffError(f"VGGish weights not given: {how}")
    chosen = Path(chosen).expanduser()
    if not chosen.is_file():
        raise SpecdiffError(f"{chosen}: VGGish weights file not found; {how}")
    return chosen


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]


class VGGishEmbedder:
    """VGGish on prepared 16 kHz audio -> (T, 128) embeddings, one per 0.96 s (see module doc).

    Args:
        network: a module from ``build_vggish_network`` with weights loaded.
        identity: a string naming the weights (used in cache keys).
        batch_size: patches per forward pass.
    """

    name = "vggish"

    def __init__(self, network: nn.Module, identity: str, batch_size: int = 64):
        self.network = network.eval()
        self.identity = f"vggish-{identity}"
        self.batch_size = batch_size

    @classmethod
    def from_file(cls, path: str | os.PathLike | None = None, download: bool = False,
                  **kwargs) -> "VGGishEmbedder":
        """Load a torchvggish state dict (``weights_only=True``) from ``path``, the env var or
        the user cache (see `resolve_vggish_weights`)."""
        weights = resolve_vggish_weights(path, download)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as error:
            raise SpecdiffError(f"{weights}: not a readable torch state dict ({error})") from None
        network = build_vggish_network()
        try:
            network.load_state_dict(state)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise SpecdiffError(f"{weights}: not VGGish weights ({first})") from None
        return cls(network, _file_digest(weights), **kwargs)

    @staticmethod
    def examples(audio_16k: np.ndarray) -> np.ndarray:
        """(n,) 16 kHz audio -> (T, 96, 64) log-mel patches, torchvggish's input framing."""
        from torchvggish import vggish_input

        if vggish_num_frames(len(audio_16k)) == 0:
            return np.zeros((0, EXAMPLE_FRAMES, 64), np.float32)
        patches = vggish_input.waveform_to_examples(
            np.asarray(audio_16k, np.float64), SAMPLE_RATE, return_tensor=False
        )
        return np.ascontiguousarray(patches, dtype=np.float32)

    @torch.inference_mode()
    def embed(self, audio_16k: np.ndarray) -> np.ndarray:
        patches = torch.from_numpy(self.examples(audio_16k))[:, None]  # (T, 1, 96, 64)
        out = [self.network(patches[i : i + self.batch_size]) for i in
               range(0, len(patches), self.batch_size)]
        if not out:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return torch.cat(out).float().numpy()
