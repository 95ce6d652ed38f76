"""specdiff: MIDI to audio with spectrogram diffusion (Hawthorne et al., ISMIR 2022).

The top-level names are resolved lazily so that ``import specdiff`` stays light: it never imports
Lightning, gradio or onnxruntime, and a broken optional subpackage cannot break the others.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "SpecdiffError": "specdiff.errors",
    "read_midi": "specdiff.codec",
    "tokenize_notes": "specdiff.codec",
    "SpectrogramDiffusion": "specdiff.models",
    "Synthesizer": "specdiff.synthesizer",
    "SynthesisSettings": "specdiff.bundle",
    "synthesize": "specdiff.synthesizer",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'specdiff' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
