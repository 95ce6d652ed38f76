"""The official SoundStream mel decoder ("melgan/model.onnx") run with onnxruntime."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from specdiff.errors import SpecdiffError
from specdiff.vocoders.base import Vocoder

INPUT_NAME = "input_features"
"""Name of the ONNX model's input: float32 (batch, frames, 128) unscaled log-mel."""


class SoundStreamOnnx(Vocoder):
    """SoundStream spectrogram inverter exported to ONNX (``kashif/soundstream_mel_decoder``).

    The model takes ``input_features`` float32 (1, T, 128) and returns as its first output
    (1, T * 320) audio at 16 kHz. A batch is looped over unless the model's batch axis is dynamic.
    onnxruntime is imported only when an instance is made.

    Args:
        path: the ``.onnx`` file (in the hub layout, ``<model>/melgan/model.onnx``).
        providers: onnxruntime execution providers (default: CUDA if ``device`` is a CUDA
            device and onnxruntime has it, else CPU).
        device: where the caller's tensors live; only used to choose providers.
        threads: intra-op threads (default: onnxruntime's choice).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        providers: list[str] | None = None,
        device: torch.device | str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SpecdiffError(f"{self.path}: no such ONNX vocoder file")
        try:
            import onnxruntime as ort
        except ImportError:
            raise SpecdiffError(
                f"{self.path}: the ONNX vocoder needs onnxruntime (pip install 'specdiff[onnx]')"
            ) from None
        if providers is None:
            providers = ["CPUExecutionProvider"]
            wants_cuda = device is not None and torch.device(device).type == "cuda"
            if wants_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise SpecdiffError(f"{self.path}: not a loadable ONNX model ({err})") from None
        inputs = {item.name: item for item in self.session.get_inputs()}
        if INPUT_NAME not in inputs or len(inputs) != 1:
            raise SpecdiffError(
                f"{self.path}: expected one input named {INPUT_NAME!r} (a SoundStream mel decoder),"
                f" found {sorted(inputs)}"
            )
        shape = inputs[INPUT_NAME].shape
        if len(shape) != 3 or (isinstance(shape[2], int) and shape[2] != self.n_mels):
            raise SpecdiffError(
                f"{self.path}: input {INPUT_NAME!r} has shape {shape}, expected (1, frames, "
                f"{self.n_mels})"
            )
        # A fixed integer batch axis means one example per call.
        self.dynamic_batch = not isinstance(shape[0], int) or shape[0] != 1

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        features = mel.detach().cpu().numpy().astype(np.float32, copy=False)  # (B, T, M)
        if self.dynamic_batch:
            audio = self._run(features)
        else:
            audio = np.concatenate([self._run(features[i : i + 1]) for i in range(len(features))])
        expected = features.shape[1] * self.hop_length
        if audio.shape[1] != expected:
            raise SpecdiffError(
                f"{self.path}: produced {audio.shape[1]} samples for {features.shape[1]} frames, "
                f"expected {expected} ({self.hop_length} per frame)"
            )
        return torch.from_numpy(audio).to(mel.device)

    def _run(self, features: np.ndarray) -> np.ndarray:
        output = self.session.run(None, {INPUT_NAME: features})[0]
        return np.asarray(output, dtype=np.float32).reshape(features.shape[0], -1)  # (B, T*hop)

    def __repr__(self) -> str:
        return f"SoundStreamOnnx({str(self.path)!r})"
