"""Reading the port's Lightning checkpoints: config sources, conversion, refusals."""

from __future__ import annotations

import pathlib
from pathlib import Path

import numpy as np
import pytest
import torch

from specdiff.checkpoints.port import (
    infer_port_config,
    map_port_key,
    read_port,
    read_port_checkpoint,
)
from specdiff.cli import main
from specdiff.errors import SpecdiffError
from specdiff.models import SpectrogramDiffusion
from specdiff.models.autoregressive import AutoregressiveModel
from specdiff.models.builder import load_model as load_any

PORT = Path(__file__).resolve().parents[1] / "fixtures" / "port"


def ckpt(name: str) -> Path:
    return PORT / f"{name}.ckpt"


def yaml(name: str) -> Path:
    return PORT / f"{name}_config.yaml"


def cases(name: str) -> dict[str, torch.Tensor]:
    with np.load(PORT / f"{name}_cases.npz") as z:
        return {k: torch.from_numpy(z[k]) for k in z.files}


@torch.no_grad()
def eps_of(model: SpectrogramDiffusion, z: dict[str, torch.Tensor]) -> torch.Tensor:
    return model.predict_eps(z["x_t"], z["t"], model.encode(z["tokens"], z.get("context")))


def test_every_key_is_mapped_and_every_weight_is_used():
    for name in ("tiny_context", "tiny_nocontext", "tiny_ar"):
        state = read_port_checkpoint(ckpt(name))
        kind, config, ours = read_port(ckpt(name), yaml(name))
        model = (SpectrogramDiffusion(config) if kind == "spectrogram_diffusion"
                 else AutoregressiveModel(config))
        assert set(ours) == set(model.state_dict())  # nothing missing, nothing left over
        skipped = [k for k in state if map_port_key(k, kind) == []]
        assert sorted(skipped) == ["mel.0.mel_scale.fb", "mel.0.spectrogram.window",
                                   "mel.1.max", "mel.1.min"]


@pytest.mark.parametrize("name", ["tiny_context", "tiny_nocontext"])
def test_convert_round_trip_gives_identical_outputs(name, tmp_path, capsys):
    out = tmp_path / f"{name}.safetensors"
    assert main(["convert", str(ckpt(name)), "--port-config", str(yaml(name)), "-o", str(out)]) == 0
    assert "port numerics" in capsys.readouterr().out
    direct = SpectrogramDiffusion.from_pretrained(ckpt(name), config=yaml(name))
    converted = SpectrogramDiffusion.from_pretrained(out)
    assert converted.config == direct.config
    z = cases(name)
    assert torch.equal(eps_of(converted, z), eps_of(direct, z))
    assert torch.equal(converted.silence_context(), direct.silence_context())


def test_autoregressive_convert_round_trip(tmp_path):
    out = tmp_path / "ar.safetensors"
    assert main(["convert", str(ckpt("tiny_ar")), "--port-config", str(yaml("tiny_ar")),
                 "-o", str(out)]) == 0
    direct = load_any(ckpt("tiny_ar"), port_config=yaml("tiny_ar"))
    converted = load_any(out)
    assert isinstance(converted, AutoregressiveModel) and converted.config == direct.config
    tokens = cases("tiny_ar")["tokens"]
    assert torch.equal(converted.generate(tokens, frames=3), direct.generate(tokens, frames=3))


def test_config_sources_agree():
    """YAML path, init_args dict, only the head count, and a ready ModelConfig."""
    _, from_yaml, _ = read_port(ckpt("tiny_context"), yaml("tiny_context"))
    _, from_heads, _ = read_port(ckpt("tiny_context"), {"nhead": 2})
    _, from_config, _ = read_port(ckpt("tiny_context"), from_yaml)
    assert from_heads == from_yaml == from_config
    import yaml as pyyaml

    full = pyyaml.safe_load(yaml("tiny_context").read_text())
    _, from_dict, _ = read_port(ckpt("tiny_context"), full)
    assert from_dict == from_yaml


def test_sizes_are_inferred_from_shapes_with_head_width_64():
    state = read_port_checkpoint(ckpt("tiny_nocontext"))
    # widen every attention to 2 x 64 channels: the shape the published configs have
    wide = {}
    for key, tensor in state.items():
        if key.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
            tensor = torch.zeros(128, tensor.shape[1])
        elif key.endswith("emb_proj.weight"):
            tensor = torch.zeros(tensor.shape[0], 128)
        wide[key] = tensor
    kind, config = infer_port_config(wide)
    assert kind == "spectrogram_diffusion" and not config.has_context
    assert (config.num_heads, config.head_dim, config.d_model, config.d_ff) == (2, 64, 24, 48)
    assert (config.max_tokens, config.decoder_rows, config.vocab_size) == (3000, 257, 901)
    kind, _ = infer_port_config(read_port_checkpoint(ckpt("tiny_ar")), {"nhead": 2})
    assert kind == "autoregressive"


def test_head_count_that_cannot_be_inferred_asks_for_the_config(capsys):
    with pytest.raises(SpecdiffError, match="head count cannot be read.*--port-config"):
        SpectrogramDiffusion.from_pretrained(ckpt("tiny_context"))
    assert main(["convert", str(ckpt("tiny_ar")), "-o", "unused.safetensors"]) == 2
    assert "tiny_ar.ckpt" in capsys.readouterr().err


def test_config_that_disagrees_with_the_weights_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml("tiny_context").read_text().replace("emb_dim: 24", "emb_dim: 32"))
    with pytest.raises(SpecdiffError, match="emb_dim = 32, the weights have 24"):
        SpectrogramDiffusion.from_pretrained(ckpt("tiny_context"), config=bad)
    with pytest.raises(SpecdiffError, match="with_context"):
        SpectrogramDiffusion.from_pretrained(ckpt("tiny_nocontext"), config=yaml("tiny_context"))
    with pytest.raises(SpecdiffError, match="AutoregressiveLM"):
        load_any(ckpt("tiny_context"), port_config=yaml("tiny_ar"))
    with pytest.raises(SpecdiffError, match="autoregressive model, not a diffusion model"):
        SpectrogramDiffusion.from_pretrained(ckpt("tiny_ar"), config=yaml("tiny_ar"))


class MakesMarker:
    """A pickled object whose unpickling would create a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


def test_pickled_objects_are_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "marker"
    checkpoint = torch.load(ckpt("tiny_context"), weights_only=True)
    checkpoint["callbacks"]["evil"] = MakesMarker(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save(checkpoint, evil)
    with pytest.raises(SpecdiffError, match="refused: not a plain tensor checkpoint"):
        SpectrogramDiffusion.from_pretrained(evil, config=yaml("tiny_context"))
    assert main(["convert", str(evil), "--port-config", str(yaml("tiny_context")),
                 "-o", str(tmp_path / "x.safetensors")]) == 2
    assert main(["synth", "nothing.mid", "--model", str(evil), "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert "evil.ckpt" in err and "refused" in err
    assert not marker.exists() and not (tmp_path / "x.safetensors").exists()
    # the same object unpickled without weights_only would have run (the test is real)
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_files_that_are_not_port_checkpoints_are_refused(tmp_path):
    torch.save({"state_dict": {"model.decoder.w": torch.zeros(1)}}, tmp_path / "other.ckpt")
    with pytest.raises(SpecdiffError, match="not a checkpoint of the unofficial port"):
        SpectrogramDiffusion.from_pretrained(tmp_path / "other.ckpt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(SpecdiffError, match="empty.ckpt"):
        load_any(tmp_path / "empty.ckpt")
    state = dict(read_port_checkpoint(ckpt("tiny_nocontext")))
    state["mel.1.min"] = torch.tensor(float("inf"))  # an untrained scaler
    torch.save({"state_dict": state}, tmp_path / "untrained.ckpt")
    with pytest.raises(SpecdiffError, match="not a trained range"):
        load_any(tmp_path / "untrained.ckpt", port_config=yaml("tiny_nocontext"))
    with pytest.raises(SpecdiffError, match="cannot read the port config"):
        load_any(ckpt("tiny_nocontext"), port_config=PORT / "README.md")
    (tmp_path / "other.yaml").write_text("model:\n  init_args:\n    d_model: 24\n")
    with pytest.raises(SpecdiffError, match="not a port config"):
        load_any(ckpt("tiny_nocontext"), port_config=tmp_path / "other.yaml")


def test_port_config_for_another_format_is_refused(tmp_path):
    model = SpectrogramDiffusion.from_pretrained(ckpt("tiny_nocontext"),
                                                 config=yaml("tiny_nocontext"))
    path = model.save_pretrained(tmp_path / "m.safetensors")
    with pytest.raises(SpecdiffError, match="applies to the port's .ckpt files only"):
        SpectrogramDiffusion.from_pretrained(path, config=yaml("tiny_nocontext"))


@pytest.mark.parametrize("sizes, params", [
    (dict(d_model=512, num_heads=6, head_dim=64, d_ff=1024, layers=8, has_context=False),
     83_534_976),  # "small without context"
    (dict(d_model=512, num_heads=6, head_dim=64, d_ff=1024, layers=8, has_context=True),
     102_447_232),  # "small with context"
    (dict(d_model=758, num_heads=12, head_dim=64, d_ff=2048, layers=12, has_context=True),
     402_463_664),  # "base with context" (d = 758 as in the port's config)
])
def test_published_port_sizes_have_the_ports_parameter_counts(sizes, params):
    """model.md §8.1 counts (buffers excluded: the port's position tables are buffers)."""
    from specdiff.models import port_config

    layers = sizes.pop("layers")
    with torch.device("meta"):
        model = SpectrogramDiffusion(port_config(encoder_layers=layers, decoder_layers=layers,
                                                 **sizes))
    count = sum(p.numel() for name, p in model.named_parameters()
                if not name.endswith("position_table"))
    assert count == params
