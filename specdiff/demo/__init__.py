"""specdiff.demo: the local web studio behind ``specdiff demo``.

Importing this package does not import gradio; ``build_app`` and ``launch`` do (they live in
``specdiff.demo.app``). Upload checks, part summaries and instrument re-assignment are plain
functions usable without gradio.
"""

from __future__ import annotations

from typing import Any

from specdiff.demo.limits import DemoLimits, load_upload
from specdiff.demo.runner import Rendering, RenderSettings, load_model, synthesize_notes
from specdiff.demo.tracks import parts_markdown, summarize_parts
from specdiff.instruments import (
    DRUMS,
    GM_PROGRAM_NAMES,
    Part,
    assign_parts,
    instrument_choices,
    instrument_key,
    instrument_keys,
    instrument_label,
    instrument_name,
    pitch_name,
    reassign_instruments,
)


def build_app(*args: Any, **kwargs: Any) -> Any:
    """``specdiff.demo.app.build_app`` (imports gradio)."""
    from specdiff.demo.app import build_app as build

    return build(*args, **kwargs)


def launch(*args: Any, **kwargs: Any) -> Any:
    """``specdiff.demo.app.launch`` (imports gradio)."""
    from specdiff.demo.app import launch as run

    return run(*args, **kwargs)


__all__ = [
    "DRUMS", "GM_PROGRAM_NAMES", "DemoLimits", "Part", "RenderSettings", "Rendering",
    "assign_parts", "build_app", "instrument_choices", "instrument_key", "instrument_keys",
    "instrument_label", "instrument_name", "launch", "load_model", "load_upload",
    "parts_markdown", "pitch_name", "reassign_instruments", "summarize_parts",
    "synthesize_notes",
]
