"""Model bundles: settings travel with the model, every route to the same bundle gives the same
bytes, `specdiff convert` / `specdiff info`, and no import cycles in the package."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.bundle import SynthesisSettings
from specdiff.diffusion import SamplerConfig
from specdiff.checkpoints import read_checkpoint
from specdiff.cli import main
from specdiff.errors import SpecdiffError
from specdiff.synthesizer import Synthesizer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HUB_DIR = FIXTURES / "models" / "diffusers_tiny"
PORT = FIXTURES / "port"
FAST = dict(steps=2, progress=False, seed=3)


@pytest.fixture(scope="module")
def midi(tmp_path_factory) -> Path:
    import midi_files

    notes = [(0, 0, 60 + k, 90, 0.4 * k, 0.4 * k + 0.5) for k in range(4)]  # one segment
    return midi_files.write_midi(tmp_path_factory.mktemp("bundle") / "song.mid", notes)


def test_settings_round_trip_and_refuse_what_they_do_not_know():
    settings = SynthesisSettings(vocoder="specdiff",
                                 sampling=SamplerConfig(steps=12, guidance=3.0,
                                                        guidance_interval=[0.1, 1]),
                                 mel_stages=["fill_dropouts"], audio_stages=("soft_clip",))
    assert SynthesisSettings.from_json(settings.to_json()) == settings
    assert settings.mel_stages == ("fill_dropouts",)  # lists from JSON become tuples
    assert settings.sampling.guidance_interval == (0.1, 1.0)
    # format version 2 held the sampling fields flat
    flat = {"vocoder": "specdiff", "sampler": "dpmpp_2m", "steps": 12, "guidance": 3.0,
            "guidance_interval": [0.1, 1.0], "mel_stages": ["fill_dropouts"],
            "audio_stages": ["soft_clip"]}
    assert SynthesisSettings.from_json(json.dumps(flat)) == settings
    with pytest.raises(SpecdiffError, match="unknown synthesis settings \\['tempo'\\]"):
        SynthesisSettings.from_json(json.dumps({"tempo": 1}), "x.safetensors")
    with pytest.raises(SpecdiffError, match="unknown synthesis settings \\['eta'\\]"):
        SynthesisSettings.from_json(json.dumps({"sampling": {"eta": 1}}), "x.safetensors")
    with pytest.raises(SpecdiffError, match="sampler 'euler'"):
        SynthesisSettings().override(sampler="euler")
    with pytest.raises(SpecdiffError, match="guidance interval"):
        SynthesisSettings().override(guidance_interval=(0.5, 0.2))
    with pytest.raises(SpecdiffError, match="unknown mel_stages \\['denoise'\\]"):
        SynthesisSettings(mel_stages=("denoise",))
    with pytest.raises(SpecdiffError, match="continuation 'crossfade'"):
        SynthesisSettings(continuation="crossfade")
    with pytest.raises(SpecdiffError, match="overlap 256"):
        SynthesisSettings(overlap=256)


def test_official_and_port_checkpoints_read_with_the_official_settings():
    for checkpoint in (read_checkpoint(HUB_DIR),
                       read_checkpoint(PORT / "tiny_context.ckpt",
                                       port_config=PORT / "tiny_context_config.yaml")):
        assert checkpoint.settings == SynthesisSettings()
        assert checkpoint.settings.mel_stages == () and checkpoint.settings.audio_stages == ()
        assert checkpoint.settings.vocoder == "griffin-lim"


@pytest.mark.parametrize("source, port_config", [
    (HUB_DIR, None),
    (PORT / "tiny_context.ckpt", PORT / "tiny_context_config.yaml"),
    (PORT / "tiny_ar.ckpt", PORT / "tiny_ar_config.yaml"),
])
def test_a_checkpoint_and_the_bundles_converted_from_it_sound_the_same(midi, tmp_path, source,
                                                                       port_config):
    extra = [] if port_config is None else ["--port-config", str(port_config)]
    assert main(["convert", str(source), "-o", str(tmp_path / "one.safetensors"), *extra]) == 0
    assert main(["convert", str(source), "-o", str(tmp_path / "folder"), *extra]) == 0
    direct, rate = Synthesizer.from_pretrained(source, port_config=port_config).synthesize(
        midi, **FAST)
    assert rate == 16000 and np.isfinite(direct).all() and np.abs(direct).max() > 0
    for bundle in (tmp_path / "one.safetensors", tmp_path / "folder",
                   tmp_path / "folder" / "model.safetensors"):
        audio, _ = Synthesizer.from_pretrained(bundle).synthesize(midi, **FAST)
        assert audio.tobytes() == direct.tobytes(), bundle
    assert read_checkpoint(tmp_path / "one.safetensors").provenance["converted_from"] == \
        str(source)


def test_a_file_vocoder_travels_in_a_bundle_folder_only(tmp_path):
    pytest.importorskip("onnx")
    from specdiff.vocoders.testing import build_tiny_onnx_vocoder

    hub = tmp_path / "hub"
    shutil.copytree(HUB_DIR, hub)
    build_tiny_onnx_vocoder(hub / "melgan" / "model.onnx")
    assert main(["convert", str(hub), "-o", str(tmp_path / "x.safetensors")]) == 2
    assert not (tmp_path / "x.safetensors").exists()
    assert main(["convert", str(hub), "-o", str(tmp_path / "x.safetensors"), "--vocoder",
                 "griffin-lim"]) == 0
    assert main(["convert", str(hub), "-o", str(tmp_path / "bundle")]) == 0
    assert (tmp_path / "bundle" / "vocoder.onnx").read_bytes() == \
        (hub / "melgan" / "model.onnx").read_bytes()
    assert read_checkpoint(tmp_path / "bundle").settings.vocoder == "vocoder.onnx"
    a = Synthesizer.from_pretrained(hub)
    b = Synthesizer.from_pretrained(tmp_path / "bundle")
    mel = torch.randn(1, 30, 128) - 4
    assert torch.equal(a.vocoder(mel), b.vocoder(mel))


def test_a_synthesizer_saves_its_settings(tmp_path):
    synthesizer = Synthesizer.from_pretrained(HUB_DIR)
    synthesizer.settings = synthesizer.settings.override(guidance=4.0, steps=7,
                                                         mel_stages=("fill_dropouts",))
    path = synthesizer.save_pretrained(tmp_path / "m.safetensors")
    assert Synthesizer.from_pretrained(path).settings == synthesizer.settings


def test_info_prints_what_a_bundle_holds(capsys):
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["kind"] == "spectrogram_diffusion" and facts["stored_as"] == ["float16"]
    assert facts["synthesis"]["vocoder"] == "specdiff"
    assert facts["synthesis"]["mel_stages"] == ["fill_dropouts"]
    assert facts["sizes"]["context_encoder"] is True
    assert main(["info", str(HUB_DIR)]) == 0
    out = capsys.readouterr().out
    assert "vocoder: griffin-lim" in out and "mel_stages: ()" in out


def _imports(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (module and function level; not the imports
    under ``if TYPE_CHECKING:``)."""
    root = package.parent
    modules = {".".join(f.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): f
               for f in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        skip: set[int] = set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", getattr(
                    node.test, "attr", None)) == "TYPE_CHECKING":
                skip.update(id(n) for child in node.body for n in ast.walk(child))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target not in (name, package.name):
                    found.add(target)
        graph[name] = found
    return graph


def test_no_import_cycles_in_the_package():
    import specdiff

    graph = _imports(Path(specdiff.__file__).parent)
    cycles = []
    for start in graph:  # a cycle through `start`: a path from one of its imports back to it
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, "\n".join(sorted(set(cycles))[:10])
