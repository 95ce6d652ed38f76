"""The web studio: upload MIDI, re-assign instruments, render, listen, look (Gradio Blocks).

This is the only module of specdiff that imports gradio, and only when ``build_app`` or ``launch``
runs; ``import specdiff`` never reaches it.
"""

from __future__ import annotations

import atexit
import ipaddress
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from specdiff.demo.limits import DemoLimits, load_upload
from specdiff.demo.runner import (
    RenderSettings,
    default_guidance,
    load_model,
    sampler_defaults,
    synthesize_notes,
)
from specdiff.demo.tracks import part_title, parts_markdown, pitch_range, summarize_parts
from specdiff.errors import SpecdiffError
from specdiff.instruments import assign_parts, instrument_choices, instrument_name

# Instruments that get their own menu; further ones keep their instrument (the page says so).
MAX_PARTS = 16
# Renders kept on disk for the page's players and downloads (older ones are deleted).
KEEP_RENDERS = 16
EXAMPLES_DIR = Path(__file__).with_name("examples")
INSTALL_HINT = "install the optional extra with: pip install 'specdiff[demo]' (or: pip install gradio)"


def import_gradio() -> Any:
    """Import gradio with its analytics off; a clear ``SpecdiffError`` when it is not installed."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio
    except ImportError as error:
        raise SpecdiffError(f"the web studio needs gradio, which is not installed ({error}); "
                            f"{INSTALL_HINT}") from None
    return gradio


def examples() -> list[Path]:
    """The bundled example MIDI files."""
    return sorted(EXAMPLES_DIR.glob("*.mid"))


class _RenderDirs:
    """Numbered output folders under one temporary root that is removed at exit."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="specdiff-demo-"))
        self._count = itertools.count(1)
        atexit.register(shutil.rmtree, self.root, ignore_errors=True)

    def new(self) -> Path:
        path = self.root / f"render-{next(self._count):05d}"
        path.mkdir()
        for old in sorted(self.root.iterdir())[:-KEEP_RENDERS]:
            shutil.rmtree(old, ignore_errors=True)
        return path


def build_app(
    model: Any,
    limits: DemoLimits | None = None,
    vocoder: str | None = None,
    device: str | None = None,
) -> Any:
    """Build the studio's ``gradio.Blocks`` (queued: one render at a time).

    Args:
        model: a `Synthesizer` (see ``runner.load_model``) or a bare network (the official
            settings).
        limits: upload and request limits (default ``DemoLimits()``).
        vocoder: replaces the bundle's vocoder (``None``: the bundle's).
        device: torch device for synthesis (``None``: where the model is).
    """
    from specdiff.bundle import with_quality
    from specdiff.synthesizer import load_synthesizer

    gr = import_gradio()
    model = load_synthesizer(model, device=device, vocoder=vocoder)
    limits = limits or DemoLimits()
    samplers = sampler_defaults(model)
    first_sampler = next(iter(samplers))
    dirs = _RenderDirs()
    choices = instrument_choices()

    def on_upload(path: str | None) -> list[Any]:
        hidden = [gr.Dropdown(visible=False) for _ in range(MAX_PARTS)]
        if not path:
            return ["Upload a MIDI file (.mid) or pick an example.", "", None, *hidden]
        try:
            sequence = load_upload(path, limits)
            parts = summarize_parts(sequence)
            table = parts_markdown(parts)
        except SpecdiffError as error:
            return [f"**Error:** {error}", "", None, *hidden]
        menus = [
            gr.Dropdown(
                visible=True,
                value=part.keys[0],
                label=f"Part {part.number}: {part_title(part)} ({part.notes} notes, "
                      f"{pitch_range(part)})",
            )
            for part in parts[:MAX_PARTS]
        ]
        status = f"Loaded **{Path(path).name}**: {len(sequence)} notes, {len(parts)} parts."
        if len(parts) > MAX_PARTS:
            status += f" Only the first {MAX_PARTS} parts can be re-assigned."
        state = {"sequence": sequence, "keys": [part.keys for part in parts[:MAX_PARTS]],
                 "stem": Path(path).stem or "specdiff"}
        return [status, table, state, *menus, *hidden[len(menus):]]

    def on_sampler(name: str) -> Any:
        return gr.Slider(value=min(samplers.get(name, 1), limits.max_steps))

    def on_quality(name: str) -> list[Any]:
        preset = with_quality(model.settings, name).sampling
        return [gr.Dropdown(value=preset.name),
                gr.Slider(value=min(preset.num_steps, limits.max_steps)),
                gr.Slider(value=preset.guidance)]

    tracker = gr.Progress(track_tqdm=True)

    def on_render(values: dict, progress: Any = tracker) -> list[Any]:
        # Inputs come as one {component: value} dict (a set of inputs), so that `progress` stays
        # positional: gradio mirrors the pipeline's tqdm bar only for a positional Progress.
        current = values[state]
        name, n_steps, weight = values[sampler], int(values[steps]), float(values[guidance])
        preset = values[quality]
        seed_value = int(values[seed] or 0)
        if not current:
            return [None, None, None, "**Error:** upload a MIDI file (or pick an example) first.",
                    gr.skip()]
        try:
            if not 1 <= n_steps <= limits.max_steps:
                raise SpecdiffError(f"steps: expected 1..{limits.max_steps}, got {n_steps}")
            assigned = [values[menu] for menu in menus]
            # A part keeps its own instruments unless its menu names another one.
            mapping = {number: int(new) for number, (keys, new)
                       in enumerate(zip(current["keys"], assigned), 1)
                       if new is not None and (len(keys) > 1 or int(new) != keys[0])}
            sequence = assign_parts(current["sequence"], mapping)
            settings = RenderSettings(sampler=name, steps=n_steps, guidance=weight,
                                      seed=seed_value, quality=preset)
            out = dirs.new()
            result = synthesize_notes(sequence, model, settings, out / f"{current['stem']}.wav")
            progress(0.99, desc="Drawing the figure")
            from specdiff.audio import save_audio
            from specdiff.demo.figure import render_figure

            flac = save_audio(result.wav.with_suffix(".flac"), result.audio, result.sample_rate)
            png = render_figure(sequence, result.mel, out / "figure.png")
        except SpecdiffError as error:
            return [None, None, None, f"**Error:** {error}", gr.skip()]
        changed = [f"part {number} → {instrument_name(key)}" for number, key in mapping.items()]
        seconds = len(result.audio) / result.sample_rate
        status = (f"Rendered {seconds:.1f} s of audio ({name}, {n_steps} steps, "
                  f"guidance {weight:g}, seed {seed_value}).")
        if changed:
            status += " Re-assigned: " + ", ".join(changed) + "."
        table_now = parts_markdown(summarize_parts(sequence))  # what each part played
        return [str(result.wav), [str(result.wav), str(flac)], str(png), status, table_now]

    with gr.Blocks(title="specdiff studio", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        gr.Markdown(
            "# specdiff studio\nMIDI in, audio out: multi-instrument synthesis with spectrogram "
            "diffusion. Upload a MIDI file, choose instruments, render, listen and look."
        )
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="MIDI file", type="filepath", elem_id="midi-upload")
                if examples():
                    gr.Examples([[str(p)] for p in examples()], inputs=[upload],
                                label="Examples")
                status = gr.Markdown("Upload a MIDI file (.mid) or pick an example.",
                                     elem_id="status")
                table = gr.Markdown(elem_id="tracks")
                menus = [
                    gr.Dropdown(choices=choices, visible=False, interactive=True,
                                elem_id=f"part-{i + 1}")
                    for i in range(MAX_PARTS)
                ]
                with gr.Accordion("Sampler", open=True):
                    quality = gr.Radio(["draft", "default", "best"], value="default",
                                       label="Quality", elem_id="quality",
                                       info="draft: half the steps, fastest; best: the paper's "
                                            "1000 steps, slowest")
                    sampler = gr.Dropdown(list(samplers), value=first_sampler, label="Sampler",
                                          elem_id="sampler")
                    steps = gr.Slider(1, limits.max_steps,
                                      value=min(samplers[first_sampler], limits.max_steps),
                                      step=1, label="Steps", elem_id="steps")
                    guidance = gr.Slider(0.0, 10.0, value=default_guidance(model), step=0.1,
                                         label="Guidance (1 = none)", elem_id="guidance")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="seed")
                render = gr.Button("Render", variant="primary", elem_id="render")
            with gr.Column(scale=3):
                # The browser's own player: a plain <audio controls src=...> element.
                audio = gr.Audio(label="Result", type="filepath", interactive=False,
                                 elem_id="result-audio",
                                 waveform_options=gr.WaveformOptions(show_recording_waveform=False))
                downloads = gr.File(label="Download WAV / FLAC", file_count="multiple",
                                    interactive=False, elem_id="downloads")
                figure = gr.Image(label="Generated spectrogram and piano roll", type="filepath",
                                  interactive=False, elem_id="figure")
        upload.change(on_upload, inputs=[upload], outputs=[status, table, state, *menus],
                      concurrency_limit=4, concurrency_id="upload")
        sampler.change(on_sampler, inputs=[sampler], outputs=[steps], queue=False)
        quality.change(on_quality, inputs=[quality], outputs=[sampler, steps, guidance],
                       queue=False)
        render.click(on_render, inputs={state, quality, sampler, steps, guidance, seed, *menus},
                     outputs=[audio, downloads, figure, status, table], concurrency_limit=1,
                     concurrency_id="render", api_name="render")
    app.queue(default_concurrency_limit=1, max_size=limits.max_queue)
    return app


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def launch(
    model_source: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    limits: DemoLimits | None = None,
    vocoder: str | None = None,
    device: str | None = None,
    block: bool = True,
) -> Any:
    """Load the model, build the studio and serve it on ``host:port`` (loopback by default).

    Returns:
        The running ``gradio.Blocks`` (when ``block`` is false; else returns after Ctrl-C).
    """
    import_gradio()
    limits = limits or DemoLimits()
    model = load_model(model_source, device)  # once, before serving: a bad checkpoint fails now
    app = build_app(model, limits, vocoder=vocoder, device=device)
    if not _is_loopback(host):
        print(f"specdiff demo: warning: serving on {host}, reachable from other machines")
    try:
        app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
                   max_file_size=limits.max_upload_bytes, allowed_paths=[str(EXAMPLES_DIR)],
                   ssr_mode=False, prevent_thread_lock=not block, footer_links=[],
                   show_error=False)
    except OSError as error:
        raise SpecdiffError(f"--port {port}: cannot serve on {host}:{port} ({error})") from None
    return app
