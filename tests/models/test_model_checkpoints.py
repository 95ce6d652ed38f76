"""Our checkpoint format, `specdiff convert`, and clear errors for wrong or unreachable checkpoints."""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from specdiff.cli import main
from specdiff.errors import SpecdiffError
from specdiff.models import SpectrogramDiffusion, model_config

HUB_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "diffusers_tiny"


def assert_same_weights(a: SpectrogramDiffusion, b: SpectrogramDiffusion) -> None:
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_save_and_load_round_trip(tmp_path):
    from safetensors import safe_open

    model = SpectrogramDiffusion.from_pretrained(HUB_DIR)
    path = model.save_pretrained(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "specdiff" and meta["kind"] == "spectrogram_diffusion"
    assert json.loads(meta["config"])["d_model"] == 16
    loaded = SpectrogramDiffusion.from_pretrained(path)
    assert_same_weights(model, loaded)
    assert meta["version"] == "3" and json.loads(meta["synthesis"])["mel_stages"] == []
    assert not loaded.training
    assert all(not p.requires_grad for n, p in loaded.named_parameters() if "position_table" in n)
    # a directory holding exactly one of our files also loads
    assert_same_weights(model, SpectrogramDiffusion.from_pretrained(tmp_path))


def test_random_config_round_trip_and_dtype(tmp_path):
    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("tiny", has_context=False))
    loaded = SpectrogramDiffusion.from_pretrained(model.save_pretrained(tmp_path / "a.safetensors"))
    assert_same_weights(model.eval(), loaded)
    half = SpectrogramDiffusion.from_pretrained(tmp_path / "a.safetensors", dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16


def test_convert_cli(tmp_path, capsys):
    out = tmp_path / "sub" / "model.safetensors"
    assert main(["convert", str(HUB_DIR), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert_same_weights(SpectrogramDiffusion.from_pretrained(HUB_DIR),
                        SpectrogramDiffusion.from_pretrained(out))


def test_convert_cli_reports_errors(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing"), "-o", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "no such file" in err and len(err.strip().splitlines()) == 1


def test_hub_id_offline_is_a_clear_error():
    with pytest.raises(SpecdiffError, match="hub download failed"):
        SpectrogramDiffusion.from_pretrained("no-such-user/no-such-repo-specdiff-test",
                                             local_files_only=True)


def test_foreign_safetensors_and_port_ckpt_are_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(SpecdiffError, match="not a specdiff model file"):
        SpectrogramDiffusion.from_pretrained(tmp_path / "x.safetensors")
    (tmp_path / "p.ckpt").write_bytes(b"")
    with pytest.raises(SpecdiffError, match="p.ckpt"):
        SpectrogramDiffusion.from_pretrained(tmp_path / "p.ckpt")


class Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_objects_are_refused_and_not_run(tmp_path, capsys):
    folder = tmp_path / "hub"
    shutil.copytree(HUB_DIR, folder)
    bin_path = folder / "decoder" / "diffusion_pytorch_model.bin"
    state = torch.load(bin_path, weights_only=True)
    state["evil"] = Payload()
    torch.save(state, bin_path)
    with pytest.raises(SpecdiffError, match="cannot read the weights"):
        SpectrogramDiffusion.from_pretrained(folder)
    assert "pickled code ran" not in capsys.readouterr().out


def test_missing_and_misshaped_weights_are_named(tmp_path):
    folder = tmp_path / "hub"
    shutil.copytree(HUB_DIR, folder)
    bin_path = folder / "decoder" / "diffusion_pytorch_model.bin"
    state = torch.load(bin_path, weights_only=True)
    torch.save(OrderedDict((k, v) for k, v in state.items() if k != "spec_out.weight"), bin_path)
    with pytest.raises(SpecdiffError, match="output_proj"):
        SpectrogramDiffusion.from_pretrained(folder)
    state["spec_out.weight"] = torch.zeros(3, 3)
    torch.save(state, bin_path)
    with pytest.raises(SpecdiffError, match=r"decoder.output_proj.weight has shape \(3, 3\)"):
        SpectrogramDiffusion.from_pretrained(folder)
    state["spec_out.weight"] = torch.zeros(128, 16)
    state["decoders.0.layer.9.extra.weight"] = torch.zeros(1)
    torch.save(state, bin_path)
    with pytest.raises(SpecdiffError, match="unexpected weights"):
        SpectrogramDiffusion.from_pretrained(folder)


def test_bad_config_is_named(tmp_path):
    folder = tmp_path / "hub"
    shutil.copytree(HUB_DIR, folder)
    cfg_path = folder / "continuous_encoder" / "config.json"
    values = json.loads(cfg_path.read_text())
    values["num_heads"] = 2
    cfg_path.write_text(json.dumps(values))
    with pytest.raises(SpecdiffError, match="continuous_encoder/config.json: sizes"):
        SpectrogramDiffusion.from_pretrained(folder)
    shutil.rmtree(folder / "decoder")
    with pytest.raises(SpecdiffError, match="decoder/ folder"):
        SpectrogramDiffusion.from_pretrained(folder)
