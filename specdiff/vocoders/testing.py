"""A tiny stand-in for the SoundStream ONNX decoder, with the official input/output contract.

For tests and demos only: ``input_features`` float32 (batch, frames, 128) -> output 0
(batch, frames * 320), computed as tanh(features @ W) with a seeded random W (128, 320).
Needs the ``onnx`` package.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from specdiff.audio.mel import HOP_LENGTH, N_MELS


def tiny_vocoder_weights(seed: int = 0, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """The (128, hop_length) float32 weight matrix of the tiny decoder."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N_MELS, hop_length)) * 0.01).astype(np.float32)


def tiny_vocoder_reference(mel: np.ndarray, seed: int = 0) -> np.ndarray:
    """What the tiny decoder computes, in numpy: (B, T, 128) -> (B, T * 320)."""
    audio = np.tanh(mel.astype(np.float32) @ tiny_vocoder_weights(seed))  # (B, T, hop)
    return audio.reshape(mel.shape[0], -1)


def build_tiny_onnx_vocoder(
    path: str | os.PathLike,
    dynamic_batch: bool = False,
    seed: int = 0,
    hop_length: int = HOP_LENGTH,
    input_name: str = "input_features",
) -> Path:
    """Write the tiny decoder as an ONNX file.

    Args:
        path: output .onnx file (parent folders are created).
        dynamic_batch: a symbolic batch axis; otherwise it is fixed to 1, as assumed for the
            official export.
        seed: seed of the weights.
        hop_length: samples per frame (320; another value makes a deliberately wrong model).
        input_name: the input's name (``input_features``; another makes a wrong model).

    Returns:
        The path written.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    batch = "batch" if dynamic_batch else 1
    weights = tiny_vocoder_weights(seed, hop_length)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", [input_name, "W"], ["projected"]),  # (B, T, hop)
            helper.make_node("Tanh", ["projected"], ["bounded"]),
            helper.make_node("Reshape", ["bounded", "shape"], ["audio"]),  # (B, T * hop)
        ],
        name="tiny_mel_decoder",
        inputs=[helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, "frames",
                                                                              N_MELS])],
        outputs=[helper.make_tensor_value_info("audio", TensorProto.FLOAT, [batch, "samples"])],
        initializer=[
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older onnxruntime releases too
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
